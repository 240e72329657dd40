import { resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import type { AlertPublisher } from '#lib/audit/ports.ts';
import { snsPublisher } from '#lib/notify/sns.ts';
import { FindingsStore, type SaveProgress } from '#lib/store/store.ts';
import { startLocalStore } from '#lib/store/local.ts';

/** The default local state folder, relative to where the command runs (like .git). */
export const DEFAULT_STATE_DIR = '.account-auditor';

export interface StateFlags {
  stateDir?: string;
  table?: string;
  /** commander's `--no-store` sets store to false. */
  store?: boolean;
  profile?: string;
}

export interface OpenedStore {
  store: FindingsStore;
  /** Said to the user: which table or folder holds the state. */
  where: string;
  tableName: string;
  close(): Promise<void>;
}

/**
 * Test-only hook, documented in docs/store.md: `ACCOUNT_AUDITOR_TEST_KILL_AT=<step>:<n>` makes the
 * process SIGKILL itself at the n-th progress report of that save step (`state:3` after the third
 * batch of current state, `committed:1` right after the run record), like a kill -9 from outside
 * at that moment: nothing is flushed, closed or released.
 */
export const KILL_AT_ENV = 'ACCOUNT_AUDITOR_TEST_KILL_AT';

function killHook(env: NodeJS.ProcessEnv): ((progress: SaveProgress) => void) | null {
  const match = /^([a-z]+):(\d+)$/.exec(env[KILL_AT_ENV] ?? '');
  if (!match) return null;
  const [, step, nth] = match;
  let seen = 0;
  return (progress) => {
    if (progress.step === step && ++seen >= Number(nth)) process.kill(process.pid, 'SIGKILL');
  };
}

export interface OpenOptions {
  /** `read`: the commands that only read state: nothing is created, and a read-only folder is served from a copy. */
  mode: 'run' | 'read';
  /** Where save progress goes (the command line's stderr). */
  progress?: (message: string) => void;
  /** The process is the command line itself: a database failure dynalite raises later exits 2, naming the folder. */
  exitOnStoreFailure?: boolean;
}

/** Progress lines for a long save (1,000 findings or more): about every tenth of the current state, then the commit. */
function saveProgress(say: (message: string) => void): (progress: SaveProgress) => void {
  let reported: number | null = null;
  return ({ step, done, total }) => {
    if (step === 'state' && total >= 1000 && (done - (reported ?? 0) >= total / 10 || done === total)) {
      reported = done;
      say(`saving the state: ${done} of ${total} findings`);
    } else if (step === 'committed' && reported !== null) say('run record written: the run is complete');
  };
}

/**
 * A real DynamoDB table with `--table` (default credential chain and region), otherwise the
 * embedded store on disk, so "new since last run" works on a laptop through the same store code.
 */
export async function openStore(
  flags: StateFlags,
  historyTtlDays: number,
  options: OpenOptions = { mode: 'run' },
): Promise<OpenedStore | null> {
  if (flags.store === false) return null;
  const hooks = [options.progress ? saveProgress(options.progress) : null, killHook(process.env)].filter((h) => h !== null);
  const onProgress =
    hooks.length > 0
      ? (p: SaveProgress) => {
          for (const hook of hooks) hook(p);
        }
      : undefined;
  if (flags.table) {
    const client = new DynamoDBClient(flags.profile ? { profile: flags.profile } : {});
    return {
      store: new FindingsStore({ client, tableName: flags.table, historyTtlDays, ...(onProgress ? { onProgress } : {}) }),
      where: `DynamoDB table ${flags.table}`,
      tableName: flags.table,
      close: async () => client.destroy(),
    };
  }
  const dir = resolve(flags.stateDir ?? DEFAULT_STATE_DIR);
  const local = await startLocalStore(dir, options.mode === 'read' ? { create: false, readOnly: true } : {});
  // dynalite turns a database failure during a request into an uncaught exception: name the
  // folder and exit 2 instead of printing a stack trace.
  const fatal = (error: Error) => {
    process.stderr.write(
      `account-auditor: the local store in ${dir} failed (${error.message}); it may be damaged: move it aside and run again to start a new one\n`,
    );
    process.exit(2);
  };
  if (options.exitOnStoreFailure) process.on('uncaughtException', fatal);
  return {
    // The folder's lock file already makes this process the only writer.
    store: new FindingsStore({
      client: local.client,
      tableName: local.tableName,
      historyTtlDays,
      exclusive: true,
      ...(onProgress ? { onProgress } : {}),
    }),
    where: dir,
    tableName: local.tableName,
    close: async () => {
      try {
        await local.close();
      } finally {
        process.off('uncaughtException', fatal);
      }
    },
  };
}

/** `--topic`: publishes to the topic with a client in its own region (the ARN says which), with the user's credentials. */
export function topicPublisher(topicArn: string, profile?: string): AlertPublisher {
  const region = topicArn.split(':')[3] ?? '';
  return snsPublisher(new SNSClient({ region, ...(profile ? { profile } : {}) }), topicArn);
}
