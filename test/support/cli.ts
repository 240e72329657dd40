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

/**
 * The command line as a child process, for the tests that need one (signals, another user): the
 * executable and its arguments. bin/ runs the bundle, rebuilt first when any file it was made from
 * is newer (the global setup builds it once per test run), so a test never runs stale code.
 */
export function cliCommand(args: readonly string[]): [command: string, args: string[]] {
  return [process.execPath, [BIN, ...args]];
}
