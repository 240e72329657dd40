import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { LOCAL_TABLE_NAME } from './keys.ts';
import { ensureTable } from './store.ts';

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

/**
 * LevelDB allows one opener per folder, and dynalite turns the second opener's failure into an
 * uncaught exception on its first request; so two runs on one folder are refused here, readably.
 * A lock left by a process that died is taken over.
 */
async function lockFolder(path: string): Promise<() => Promise<void>> {
  const file = join(path, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => unlink(file).catch(() => undefined);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
    }
    const holder = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && alive(holder)) {
      throw new Error(
        `the local store in ${path} is in use by process ${holder}${holder === process.pid ? ' (this one)' : ''}; ` +
          `wait for it to finish, or delete ${file} if no account-auditor is running`,
      );
    }
    await unlink(file).catch(() => undefined);
  }
}

/**
 * The command line's state without a configured table: dynalite (DynamoDB's API on LevelDB) in this
 * process, so the same store code runs on a laptop as in Lambda. `dir` null keeps it in memory
 * (tests); otherwise the folder is created and its state survives close and reopen.
 */
export async function startLocalStore(dir: string | null): Promise<LocalStore> {
  const path = dir === null ? undefined : resolve(dir);
  if (path) await mkdir(path, { recursive: true });
  const unlock = path ? await lockFolder(path) : async () => undefined;
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
    await ensureTable(client, LOCAL_TABLE_NAME);
  } catch (error) {
    await close().catch(() => undefined);
    throw new Error(`could not open the local store${path ? ` in ${path}` : ''}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return { client, tableName: LOCAL_TABLE_NAME, endpoint, close };
}
