import { randomBytes } from 'node:crypto';
import { cp, link, mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TableDescription } from '@aws-sdk/client-dynamodb';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { AuditorError } from '#lib/model/errors.ts';
import { StoreError } from './errors.ts';
import { LOCAL_TABLE_NAME, OPEN_INDEX } from './keys.ts';
import { errorName, tableDefinition } from './table.ts';

/**
 * The local store cannot be used as asked: the folder holds no state (and was not to be created),
 * its database is damaged or not account-auditor's, or it cannot be written for a run that saves.
 * The message names the folder.
 */
export class LocalStoreError extends AuditorError {
  override name = 'LocalStoreError';
}

/** `findings`, `runs`, `history` on a folder that holds no state. */
export class NoLocalStateError extends LocalStoreError {
  override name = 'NoLocalStateError';
}

export interface LocalStoreOptions {
  /**
   * Create the folder and the table when missing (a run). Without it (the commands that only
   * read), a folder without state is NoLocalStateError and nothing is created.
   */
  create?: boolean;
  /**
   * Only reads will follow: a folder this process cannot write is opened from a private copy
   * instead of being refused.
   */
  readOnly?: boolean;
}

export interface LocalStore {
  /** Talks to the embedded server only; never to AWS. */
  client: DynamoDBClient;
  tableName: string;
  /** http://127.0.0.1:<port>, for tools that want to look at the table. */
  endpoint: string;
  /** Stops the server and closes the database, so the folder can be opened again. */
  close(): Promise<void>;
}

/** Sits among LevelDB's files, which LevelDB ignores (it only cleans up names it knows). */
const LOCK_FILE = 'account-auditor.pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else, which still holds the folder.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * LevelDB allows one opener per folder, and dynalite turns the second opener's failure into an
 * uncaught exception on its first request; so two runs on one folder are refused here, readably.
 * A lock left by a process that died is taken over. The lock file appears with its content in
 * place: it is written under a private name, then hard-linked to the lock name, which fails if the
 * lock exists, so no other process ever reads it empty.
 */
async function lockFolder(path: string): Promise<() => Promise<void>> {
  const file = join(path, LOCK_FILE);
  const temp = join(path, `${LOCK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`);
  await writeFile(temp, String(process.pid), { flag: 'wx' });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(temp, file);
        return () => unlink(file).catch(() => undefined);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 1) throw error;
      }
      const holder = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(holder) && alive(holder)) {
        throw new LocalStoreError(
          `the local store in ${path} is in use by process ${holder}${holder === process.pid ? ' (this one)' : ''}; ` +
            `wait for it to finish, or delete ${file} if no account-auditor is running`,
        );
      }
      await unlink(file).catch(() => undefined);
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/** LevelDB's own files: their presence means the folder holds a database. */
const LEVELDB_FILE = /^(CURRENT|MANIFEST-\d+|\d+\.(ldb|log|sst))$/;

/** What the folder holds: nothing (or no such folder), or a LevelDB database (maybe damaged). */
async function folderState(path: string): Promise<'missing' | 'empty' | 'database'> {
  let names: string[];
  try {
    if (!(await stat(path)).isDirectory()) throw new LocalStoreError(`the state folder ${path} is not a folder`);
    names = await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    if (error instanceof LocalStoreError) throw error;
    throw new LocalStoreError(`cannot read the state folder ${path}: ${(error as Error).message}`);
  }
  return names.some((name) => LEVELDB_FILE.test(name)) ? 'database' : 'empty';
}

interface LevelLike {
  open(): Promise<void>;
  close(): Promise<void>;
  keys(options?: { fillCache?: boolean }): AsyncIterable<unknown>;
}

/**
 * Opens the folder's database as dynalite will, and reads every key, before dynalite does: dynalite
 * turns an open or read failure into an uncaught exception on some later request, so a damaged
 * store is named here instead. A database without a CURRENT file is damaged, never a new one.
 */
async function probeDatabase(path: string): Promise<void> {
  const { Level } = createRequire(createRequire(import.meta.url).resolve('dynalite'))('level') as {
    Level: new (location: string, options: object) => LevelLike;
  };
  const db = new Level(path, { createIfMissing: false, valueEncoding: 'json' });
  try {
    await db.open();
    for await (const _key of db.keys({ fillCache: false })) {
      // Reading every key visits every table file: a truncated or corrupt one fails here.
    }
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    const detail = [(error as Error).message, cause instanceof Error ? cause.message : null].filter(Boolean).join(': ');
    if (/permission denied/i.test(detail))
      throw new LocalStoreError(`the local store in ${path} cannot be read (${detail})`, { cause: error });
    throw new LocalStoreError(
      `the local store in ${path} is damaged (${detail}); move it aside (or restore it from a backup) and run again to start a new one`,
      { cause: error },
    );
  } finally {
    await db.close().catch(() => undefined);
  }
}

/** A private copy of a folder this process cannot write, for reading only; removed on close. */
async function readableCopy(path: string): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'account-auditor-readonly-'));
  try {
    await cp(path, copy, { recursive: true, filter: (source) => !/[\\/](LOCK|account-auditor\.pid[^\\/]*)$/.test(source) });
  } catch (error) {
    await rm(copy, { recursive: true, force: true });
    throw new LocalStoreError(`the local store in ${path} cannot be read (${(error as Error).message})`, { cause: error });
  }
  return copy;
}

/**
 * The command line's state without a configured table: dynalite (DynamoDB's API on LevelDB) in this
 * process, so the same store code runs on a laptop as in Lambda. `dir` null keeps it in memory
 * (tests); otherwise its state survives close and reopen. A damaged database is LocalStoreError
 * naming the folder, never read as an empty store.
 */
export async function startLocalStore(dir: string | null, options: LocalStoreOptions = {}): Promise<LocalStore> {
  const create = options.create ?? true;
  const asked = dir === null ? undefined : resolve(dir);
  let path = asked;
  let unlock = async (): Promise<void> => undefined;
  let existing = false;
  if (asked) {
    const state = await folderState(asked);
    if (state !== 'database' && !create)
      throw new NoLocalStateError(
        `there is no account-auditor state in ${asked}${state === 'missing' ? ' (no such folder)' : ''}: run \`account-auditor run --state-dir ${asked}\` first`,
      );
    if (state === 'missing') await mkdir(asked, { recursive: true });
    try {
      unlock = await lockFolder(asked);
    } catch (error) {
      if (!UNWRITABLE.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
      if (!options.readOnly)
        throw new LocalStoreError(
          `the state folder ${asked} cannot be written (${(error as NodeJS.ErrnoException).code}): a run must save its state there; use another --state-dir, or --no-store`,
        );
      const copy = await readableCopy(asked);
      path = copy;
      unlock = () => rm(copy, { recursive: true, force: true });
    }
    if (state === 'database') {
      const opened = path ?? asked;
      try {
        await probeDatabase(opened);
      } catch (error) {
        await unlock();
        // A copy is named by the folder it was copied from.
        throw error instanceof LocalStoreError
          ? new LocalStoreError(error.message.replaceAll(opened, asked), { cause: error.cause })
          : error;
      }
    }
    existing = state === 'database';
  }
  const server = dynalite({ ...(path ? { path } : {}), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  try {
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', fail);
        done();
      });
    });
  } catch (error) {
    await unlock();
    throw error;
  }
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    // Dummy credentials keep the SDK from looking for real ones; dynalite does not check signatures.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((done, fail) => {
      // Destroying the client first drops its keep-alive sockets, which would otherwise hold the server open.
      client.destroy();
      server.close((error) => {
        // Only once LevelDB has let go of the folder may another run take it.
        void unlock().then(() => (error ? fail(error) : done()));
      });
    });
    return closing;
  };

  try {
    // A database that exists but lacks the table is damaged (or someone else's): creating an
    // empty table there would read as "no findings".
    if (existing && !(await hasTable(client))) {
      throw new LocalStoreError(
        `the local store in ${asked} is damaged: its database has no ${LOCAL_TABLE_NAME} table; move it aside and run again to start a new one`,
      );
    }
    await ensureTable(client, LOCAL_TABLE_NAME);
  } catch (error) {
    await close().catch(() => undefined);
    if (error instanceof LocalStoreError) throw error;
    throw new LocalStoreError(
      `could not open the local store${asked ? ` in ${asked}` : ''}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return { client, tableName: LOCAL_TABLE_NAME, endpoint, close };
}

async function hasTable(client: DynamoDBClient): Promise<boolean> {
  return (await describeTable(client, LOCAL_TABLE_NAME)) !== null;
}

async function describeTable(client: DynamoDBClient, tableName: string): Promise<TableDescription | null> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table ?? null;
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return null;
    throw error;
  }
}

/**
 * Creates the table if missing and waits until it is ACTIVE (local mode; DynamoDB makes a table
 * ACTIVE once the indexes created with it are). An existing table without the open index is
 * refused: openFindings would fail on every call.
 */
export async function ensureTable(client: DynamoDBClient, tableName: string, options: { timeoutMs?: number } = {}): Promise<void> {
  if (!(await describeTable(client, tableName))) {
    try {
      await client.send(new CreateTableCommand(tableDefinition(tableName)));
    } catch (error) {
      // Another process created it first: fine, wait for it like for our own.
      if (errorName(error) !== 'ResourceInUseException') throw error;
    }
  }
  let table: TableDescription | null;
  try {
    const { reason } = await waitUntilTableExists(
      { client, maxWaitTime: (options.timeoutMs ?? 120_000) / 1000, minDelay: 0.05, maxDelay: 2 },
      { TableName: tableName },
    );
    table = (reason as { Table?: TableDescription }).Table ?? null;
  } catch (error) {
    if (errorName(error) !== 'TimeoutError') throw error;
    const status = (await describeTable(client, tableName).catch(() => null))?.TableStatus;
    throw new StoreError(`table ${tableName} did not become ACTIVE in time (status ${status ?? 'unknown'})`, [], { cause: error });
  }
  if (!(table?.GlobalSecondaryIndexes ?? []).some((index) => index.IndexName === OPEN_INDEX)) {
    throw new StoreError(`table ${tableName} exists without the "${OPEN_INDEX}" index; it was not created by account-auditor`);
  }
}
