import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { LIVE_READ_ACTIONS } from '#lib/inventory/registry.ts';
import { OFFLINE_FILES } from '#lib/inventory/registry.ts';
import { ALL_CHECKS } from '#test/checks.ts';
import { runCli } from '#test/cli.ts';

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };

/** The README is the user's manual: it must not drift from what the code calls and reads. */
describe('README', () => {
  it("the IAM policy grants exactly the collector's read actions", () => {
    const block = /<!-- policy:start -->\s*```json\n([\s\S]*?)```\s*<!-- policy:end -->/.exec(readme);
    expect(block).not.toBeNull();
    const policy = JSON.parse(block![1]!) as { Statement: { Effect: string; Action: string[] }[] };
    const actions = policy.Statement.flatMap((s) => s.Action);
    expect([...actions].sort()).toEqual([...LIVE_READ_ACTIONS].sort());
    expect(actions.some((a) => a.includes('*'))).toBe(false);
  });

  it('documents every offline file', () => {
    for (const f of OFFLINE_FILES) expect(readme, f.file).toContain(`\`${f.file}\``);
  });

  it('documents every check', () => {
    for (const c of ALL_CHECKS) expect(readme).toContain(`\`${c.id}\``);
  });

  it('documents every option of run, the organization ones included', async () => {
    const help = (await runCli(['run', '--help'])).stdout;
    const options = [...help.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!).filter((o) => o !== '--help');
    expect(options).toContain('--org');
    expect(options).toContain('--concurrency');
    for (const option of options) expect(readme, option).toContain(`\`${option}`);
  });

  it('the quick start commands exist', () => {
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm test');
    expect(pkg.scripts.demo).toMatch(/account-auditor.js demo$/);
    expect(pkg.scripts.test).toContain('vitest run');
  });
});
