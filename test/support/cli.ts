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
