/**
 * The local store's lock file is never visible without its content: every write of the file is
 * slowed down here, and a watcher reading the lock name throughout must only ever see the pid.
 * (A lock seen empty reads as a dead owner's, and two processes would open one folder.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const slow = async () => new Promise((done) => setTimeout(done, 40));
  return {
    ...fs,
    writeFile: (async (...args: Parameters<typeof fs.writeFile>) => {
      await slow();
      return fs.writeFile(...args);
    }) as typeof fs.writeFile,
    open: (async (...args: Parameters<typeof fs.open>) => {
      const handle = await fs.open(...args);
      const write = handle.writeFile.bind(handle);
      handle.writeFile = (async (...w: Parameters<typeof handle.writeFile>) => {
        await slow();
        return write(...w);
      }) as typeof handle.writeFile;
      return handle;
    }) as typeof fs.open,
  };
});

const { startLocalStore } = await import('#lib/store/local.ts');

let root: string | undefined;
afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('the lock file', () => {
  it('appears with the owner pid already in it', async () => {
    root = await mkdtemp(join(tmpdir(), 'aa-lock-'));
    const lock = join(root, 'account-auditor.pid');
    const seen = new Set<string>();
    const watcher = setInterval(() => {
      try {
        if (existsSync(lock)) seen.add(readFileSync(lock, 'utf8'));
      } catch {
        // Removed between the two calls, on close.
      }
    }, 1);
    try {
      const store = await startLocalStore(root);
      await store.close();
    } finally {
      clearInterval(watcher);
    }
    expect([...seen]).toEqual([String(process.pid)]);
  });
});
