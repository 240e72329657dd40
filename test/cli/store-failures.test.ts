/**
 * SPEC §4 and §6 on the command line: a report is printed even when its save fails, and a local
 * state folder that is damaged, read-only or missing is named, never crashed on, never created by
 * a command that only reads, and never read as an empty store.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FindingsStore, StoreError } from '#lib/store/store.ts';
import { cliCommand, runCli } from '#test/cli.ts';

const cli = (...args: string[]) => runCli(args);

let root: string;
let stateDir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'aa-store-failures-'));
  stateDir = join(root, 'state');
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(root, { recursive: true, force: true });
});

describe('a save that fails', () => {
  it.each(['table', 'json', 'csv'])('--format %s: the report is printed, then the failure, exit 2', async (format) => {
    vi.spyOn(FindingsStore.prototype, 'saveRun').mockRejectedValue(new StoreError('injected: the table is unavailable'));
    const { code, stdout, stderr } = await cli('run', '--demo', '--state-dir', stateDir, '--format', format, '--quiet');
    expect(code).toBe(2);
    expect(stderr).toContain('the state was not saved');
    expect(stderr).toContain('injected: the table is unavailable');
    if (format === 'json') {
      const report = JSON.parse(stdout) as { findings: unknown[]; stateNotSaved: { message: string } };
      expect(report.findings.length).toBeGreaterThan(10);
      expect(report.stateNotSaved.message).toBe('injected: the table is unavailable');
    } else if (format === 'csv') {
      expect(stdout.split('\n')[0]).toBe('id,accountId,checkId,status,severity,change,resource,title,details');
      expect(stdout.split('\n').length).toBeGreaterThan(10);
    } else {
      expect(stdout).toContain('== user-full-access');
      expect(stdout).toMatch(/14 new, 0 regressed, 0 resolved/);
      expect(stdout).toContain('state NOT saved (StoreError)');
    }
  });
});

describe('local state folders', () => {
  it('findings, runs and history on a folder that does not exist say there is no state there, and create nothing', async () => {
    for (const args of [['findings'], ['runs'], ['history', '123456789012#root-access-key#arn:aws:iam::123456789012:root']]) {
      const { code, stdout, stderr } = await cli(...args, '--state-dir', stateDir);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toBe(
        `account-auditor: there is no account-auditor state in ${stateDir} (no such folder): run \`account-auditor run --state-dir ${stateDir}\` first\n`,
      );
      expect(existsSync(stateDir)).toBe(false);
    }
  });

  it.each([
    ['a CURRENT file that is garbage', (dir: string) => writeFile(join(dir, 'CURRENT'), 'garbage\n')],
    ['no CURRENT file beside the database files', (dir: string) => unlink(join(dir, 'CURRENT'))],
  ])('a damaged store (%s) is named with its folder: exit 2, no stack trace, not read as empty', async (_name, damage) => {
    await cli('run', '--demo', '--state-dir', stateDir, '--quiet');
    await damage(stateDir);
    for (const args of [['findings'], ['run', '--demo', '--quiet']]) {
      const { code, stdout, stderr } = await cli(...args, '--state-dir', stateDir);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(new RegExp(`^account-auditor: the local store in ${stateDir} is damaged \\(.+\\); move it aside`));
      expect(stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a read-only state folder still serves findings and runs; a run says it cannot save there', async () => {
    await cli('run', '--demo', '--state-dir', stateDir, '--quiet');
    const before = await readdir(stateDir);
    // Read-only for whoever runs the command: root ignores permissions, so it runs as nobody.
    const asRoot = process.getuid?.() === 0;
    await chmod(root, 0o755);
    for (const name of before) await chmod(join(stateDir, name), 0o444);
    await chmod(stateDir, 0o555);
    const command = (...args: string[]) =>
      spawnSync(...cliCommand([...args, '--state-dir', stateDir]), {
        encoding: 'utf8',
        env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      });
    try {
      const findings = command('findings', '--format', 'json');
      expect(findings.stderr).toBe('');
      expect(findings.status).toBe(0);
      expect(JSON.parse(findings.stdout)).toHaveLength(14);
      const runs = command('runs', '--format', 'json');
      expect(runs.status).toBe(0);
      expect(JSON.parse(runs.stdout)).toHaveLength(1);
      const run = command('run', '--demo', '--quiet');
      expect(run.status).toBe(2);
      expect(run.stderr).toContain(`the state folder ${stateDir} cannot be written`);
      // Nothing in the folder changed.
      expect(await readdir(stateDir)).toEqual(before);
    } finally {
      await chmod(stateDir, 0o755);
    }
    expect((await stat(stateDir)).isDirectory()).toBe(true);
  }, 30_000);
});
