import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type CommandContext, DEMO_DIR, DEMO_NEXT_DIR, type Io, type RunFlags } from '../shared.ts';

export function demoCommand(cli: Command, { io, done }: CommandContext): void {
  cli
    .command('demo')
    .description(
      'audit the bundled demo account on two nights in a temporary state folder: findings, what changed, the alert; then the demo organization (run --org --demo)',
    )
    .option('--all', 'list every PASS finding in the table')
    .action((flags: { all?: boolean }) => done(demo(flags, io)));
}

/**
 * The whole path on the bundled account, in a throw-away state folder: the first night, the
 * next night (a key rotated, a new admin), what changed, and the alert it would publish. Then the
 * bundled organization (`run --org --demo`) in a state folder of its own: its Shared Services
 * account is the demo account again, and its first night there must not be read as a third one.
 */
async function demo(flags: { all?: boolean }, io: Io): Promise<number> {
  const stateDir = await mkdtemp(join(tmpdir(), 'account-auditor-demo-'));
  try {
    await singleAccount(flags, io, stateDir);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
  const organizationStateDir = await mkdtemp(join(tmpdir(), 'account-auditor-demo-org-'));
  try {
    const { runOrganization } = await import('../organization.ts');
    io.stdout(
      '\n# The demo organization: examples/demo-organization (run --org --demo): one run per account, the digest it would publish\n\n',
    );
    await runOrganization(
      { org: true, demo: true, stateDir: organizationStateDir, format: 'table', failOn: 'none', quiet: true, showAlert: true },
      io,
      { where: 'a temporary folder' },
    );
    return 0;
  } finally {
    await rm(organizationStateDir, { recursive: true, force: true });
  }
}

/** The demo account's two nights, in `stateDir`. */
async function singleAccount(flags: { all?: boolean }, io: Io, stateDir: string): Promise<void> {
  const { parseSettings } = await import('#lib/settings.ts');
  const { renderAlert, renderChanges, renderTable } = await import('#lib/report/render.ts');
  const { audit, withStore } = await import('../session.ts');
  const settings = parseSettings({});
  const base: RunFlags = { stateDir, format: 'table', failOn: 'none', quiet: true };
  await withStore(base, settings.historyTtlDays, async (opened) => {
    const first = await audit(base, DEMO_DIR, settings, opened, io);
    io.stdout(`# Night 1: examples/demo-account (${first.result.run.collectedAt})\n\n`);
    io.stdout(
      `${renderTable(first.result, { all: flags.all ?? false, ...(io.columns ? { width: io.columns } : {}) })}\n${renderChanges(first, 'a temporary folder')}\n\n`,
    );
    const second = await audit(base, DEMO_NEXT_DIR, settings, opened, io);
    io.stdout(`# Night 2: examples/demo-account-next (${second.result.run.collectedAt}): what changed\n\n`);
    io.stdout(`${renderChanges(second, 'a temporary folder')}\n\n${renderAlert(second)}\n`);
  });
}
