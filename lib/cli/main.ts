import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { exitCodeFor, runAudit } from '#lib/audit/run.ts';
import { CHECK_IDS } from '#lib/checks/ids.ts';
import { ALL_CHECKS } from '#lib/checks/index.ts';
import { SEVERITIES } from '#lib/checks/types.ts';
import type { Severity } from '#lib/checks/types.ts';
import { collectLive } from '#lib/inventory/live.ts';
import { loadOffline, OFFLINE_FILES, OfflineInputError } from '#lib/inventory/offline.ts';
import { renderCsv, renderJson, renderTable } from '#lib/report/render.ts';
import { parseSettings, SettingsError } from '#lib/settings.ts';

/** The bundled demo account, in the offline export format. */
export const DEMO_DIR = fileURLToPath(new URL('../../examples/demo-account', import.meta.url));

/** Bad usage: exits 2, like an audit that could not complete, and never prints findings. */
class UsageError extends Error {
  override name = 'UsageError';
}

function integer(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

function list(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

interface RunFlags {
  profile?: string;
  region?: string[];
  regions?: string[];
  checks?: string[];
  maxKeyAge?: number;
  warnKeyAge?: number;
  keyIdLookups?: number;
  reportWait?: number;
  config?: string;
  from?: string;
  demo?: boolean;
  format: 'table' | 'json' | 'csv';
  failOn: Severity | 'none';
  all?: boolean;
  quiet?: boolean;
}

/** Settings: the config file first, flags over it, then one validation that names bad fields. */
async function settingsFrom(flags: RunFlags) {
  let fromFile: Record<string, unknown> = {};
  if (flags.config) {
    let text: string;
    try {
      text = await readFile(flags.config, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read the config file ${flags.config}: ${(error as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(`the config file ${flags.config} is not valid JSON: ${(error as Error).message}`);
    }
  }
  const regions = [...(flags.region ?? []), ...(flags.regions ?? [])];
  const overrides: Record<string, unknown> = {
    ...(flags.maxKeyAge !== undefined ? { maxKeyAgeDays: flags.maxKeyAge } : {}),
    ...(flags.warnKeyAge !== undefined ? { warnKeyAgeDays: flags.warnKeyAge } : {}),
    ...(flags.keyIdLookups !== undefined ? { keyIdLookups: flags.keyIdLookups } : {}),
    ...(flags.reportWait !== undefined ? { reportWaitSeconds: flags.reportWait } : {}),
    ...(regions.length > 0 ? { regions } : {}),
    ...(flags.checks ? { checks: flags.checks } : {}),
  };
  const merged = { ...fromFile, ...overrides };
  // A lower --max-key-age alone must not trip the default warn threshold (80 > 60): warn follows max.
  if (overrides.maxKeyAgeDays !== undefined && merged.warnKeyAgeDays === undefined) {
    merged.warnKeyAgeDays = Math.max(0, Math.round((overrides.maxKeyAgeDays as number) * (8 / 9)));
  }
  return parseSettings(merged);
}

async function run(flags: RunFlags, io: Io): Promise<number> {
  if (flags.demo && flags.from) throw new UsageError('use either --demo or --from DIR, not both');
  const settings = await settingsFrom(flags);
  const progress = (message: string) => {
    if (!flags.quiet) io.stderr(`… ${message}\n`);
  };
  const dir = flags.demo ? DEMO_DIR : flags.from;
  const result = await runAudit({
    settings,
    trigger: 'local',
    collect: dir
      ? () => loadOffline(dir, { ...(settings.regions.length > 0 ? { regions: settings.regions } : {}), ...(flags.demo ? { origin: 'demo' } : {}) })
      : () =>
          collectLive({
            settings,
            ...(flags.profile ? { profile: flags.profile } : {}),
            onProgress: progress,
          }),
  });
  const rendered =
    flags.format === 'json' ? renderJson(result) : flags.format === 'csv' ? renderCsv(result) : renderTable(result, { all: flags.all ?? false, width: io.columns });
  io.stdout(rendered.endsWith('\n') ? rendered : `${rendered}\n`);
  return exitCodeFor(result, flags.failOn);
}

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  columns?: number;
}

const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
};

function program(io: Io, done: (code: Promise<number>) => void): Command {
  const cli = new Command('account-auditor')
    .description('Audit an AWS account: root access keys, access key age, full-access users, DAX and ElastiCache service roles.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  cli
    .command('run')
    .description('run the audit: live with the default AWS credential chain, or offline from AWS CLI exports (--from), or on the demo account (--demo)')
    .option('--profile <name>', 'AWS profile to use (default: the SDK default credential chain)')
    .option('--region <name>', 'a region to audit for ElastiCache and DAX (repeatable; default: the SDK default region)', list)
    .option('--regions <list>', 'comma-separated regions to audit', list)
    .option('--checks <list>', `comma-separated subset of checks: ${CHECK_IDS.join(', ')}`, list)
    .option('--max-key-age <days>', 'FAIL access keys older than this (default 90)', integer)
    .option('--warn-key-age <days>', 'WARN from this age (default 80, or 8/9 of --max-key-age)', integer)
    .option('--key-id-lookups <n>', 'at most this many ListAccessKeys calls to name over-age keys (default 50)', integer)
    .option('--report-wait <seconds>', 'how long to wait for the credential report (default 60)', integer)
    .option('--config <file>', 'a JSON settings file (flags override it)')
    .option('--from <dir>', 'audit AWS CLI exports in DIR instead of live APIs (see `account-auditor files`)')
    .option('--demo', 'audit the bundled demo account (no AWS account needed)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .addOption(
      new Option('--fail-on <severity>', 'exit 1 on a FAIL at or above this severity (none: never; ERROR still exits 2)')
        .choices([...SEVERITIES, 'none'])
        .default('high'),
    )
    .option('--all', 'list every PASS finding in the table')
    .option('--quiet', 'no progress lines on stderr')
    .action((flags: RunFlags) => done(run(flags, io)));

  cli
    .command('files')
    .description('list the files --from DIR reads and the AWS CLI commands that produce them')
    .action(() => {
      for (const f of OFFLINE_FILES) io.stdout(`${f.file}\n    ${f.command}\n    feeds: ${f.feeds}\n`);
      done(Promise.resolve(0));
    });

  cli
    .command('checks')
    .description('list the checks with their severity and references')
    .action(() => {
      for (const c of ALL_CHECKS) io.stdout(`${c.id} [${c.severity}]  ${c.title}\n`);
      done(Promise.resolve(0));
    });
  return cli;
}

/** Runs the command line; returns the exit code instead of exiting, so tests can call it. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let pending: Promise<number> | undefined;
  const cli = program(io, (code) => {
    pending = code;
  });
  try {
    await cli.parseAsync(argv);
    if (!pending) {
      io.stderr(cli.helpInformation());
      return 2;
    }
    return await pending;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are not failures.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError || error instanceof SettingsError || error instanceof OfflineInputError) {
      io.stderr(`account-auditor: ${error.message}\n`);
      return 2;
    }
    io.stderr(`account-auditor: unexpected failure: ${(error as Error).stack ?? String(error)}\n`);
    return 2;
  }
}
