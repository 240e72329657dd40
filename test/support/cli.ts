import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '#lib/cli/main.ts';

/** Runs the command line in-process and captures what it prints, at a fixed terminal width. */
export async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'account-auditor', ...args], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    columns: 160,
  });
  return { code, stdout, stderr };
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'account-auditor.js');
const BUNDLE = join(ROOT, 'dist', 'cli.mjs');

function newestUnder(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

function bundleIsCurrent(): boolean {
  try {
    return statSync(BUNDLE).mtimeMs >= newestUnder(join(ROOT, 'lib'));
  } catch {
    return false;
  }
}

let entry: string | undefined;

/**
 * The command line as a child process, for the tests that need one (signals, another user): the
 * executable and its arguments. The bundle `npm run prepare` builds starts several times faster
 * than the TypeScript entry point, so it is used while no file under lib/ is newer than it;
 * otherwise bin/ runs the sources, and a test never runs code older than the checkout.
 */
export function cliCommand(args: readonly string[]): [command: string, args: string[]] {
  entry ??= bundleIsCurrent() ? BUNDLE : BIN;
  return [process.execPath, [entry, ...args]];
}
