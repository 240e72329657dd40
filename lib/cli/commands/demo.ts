import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type CommandContext, DEMO_DIR, DEMO_NEXT_DIR, type Io, type RunFlags } from '../shared.ts';

export function demoCommand(cli: Command, { io, done }: CommandContext): void {
  cli
    .command('demo')
    .description('audit the bundled demo account on two nights in a temporary state folder: findings, what changed, the alert')
    .option('--all', 'list every PASS finding in the table')
    .action((flags: { all?: boolean }) => done(demo(flags, io)));
}

/**
 * The whole path on the bundled account, in a throw-away state folder: the first night, the
 * next night (a key rotated, a new admin), what changed, and the alert it would publish.
 */
async function demo(flags: { all?: boolean }, io: Io): Promise<number> {
  const { parseSettings } = await import('#lib/settings.ts');
  const { renderAlert, renderChanges, renderTable } = await import('#lib/report/render.ts');
  const { audit, withStore } = await import('../session.ts');
  const stateDir = await mkdtemp(join(tmpdir(), 'account-auditor-demo-'));
  try {
    const settings = parseSettings({});
    const base: RunFlags = { stateDir, format: 'table', failOn: 'none', quiet: true };
    return await withStore(base, settings.historyTtlDays, async (opened) => {
      const first = await audit(base, DEMO_DIR, settings, opened, io);
      io.stdout(`# Night 1: examples/demo-account (${first.result.run.collectedAt})\n\n`);
      io.stdout(
        `${renderTable(first.result, { all: flags.all ?? false, ...(io.columns ? { width: io.columns } : {}) })}\n${renderChanges(first, 'a temporary folder')}\n\n`,
      );
      const second = await audit(base, DEMO_NEXT_DIR, settings, opened, io);
      io.stdout(`# Night 2: examples/demo-account-next (${second.result.run.collectedAt}): what changed\n\n`);
      io.stdout(`${renderChanges(second, 'a temporary folder')}\n\n${renderAlert(second)}\n`);
      return 0;
    });
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}
