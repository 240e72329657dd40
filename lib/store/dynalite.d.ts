// dynalite ships no types; this covers only what lib/store/local.ts and the tests use.
declare module 'dynalite' {
  interface DynaliteOptions {
    /** LevelDB folder; in memory when absent. */
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    ssl?: boolean;
    verbose?: boolean;
    debug?: boolean;
  }

  /** An http.Server whose close() also closes the LevelDB store once pending operations finish. */
  function dynalite(options?: DynaliteOptions): import('node:http').Server;

  export = dynalite;
}
