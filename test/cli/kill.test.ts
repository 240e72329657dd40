/**
 * SPEC §4, the commit point under kill -9: the real command line on an export of 10,000 failing
 * users, killed with SIGKILL at several moments of its save, then run again. Whatever the moment,
 * every FAIL/ERROR of the next run is either reported as new or belongs to a completed run, and
 * `runs`, `findings` and `history` show only what completed runs stored.
 *
 * Kill points: one from outside, on the second save progress line (mid-state, batches in
 * flight); the others through the documented test hook ACCOUNT_AUDITOR_TEST_KILL_AT
 * (lib/cli/state.ts), at a precise step: just before the run record (everything else written),
 * and just after it (before the open index is brought up to date).
 *
 * Only the runs are processes, to be killed; `runs`, `findings` and `history` read the state they
 * left in-process, as the next command would.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFailingExport } from '#test/big-export.ts';
import { cliCommand, runCli } from '#test/cli.ts';
import { ACCOUNT } from '#test/account.ts';

const USERS = 10_000;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The command line as a child process, never reaching AWS; `killOn` SIGKILLs it when stderr matches. */
function cli(args: string[], options: { env?: Record<string, string>; killOn?: RegExp } = {}): Promise<Exit> {
  return new Promise((done, fail) => {
    const child = spawn(...cliCommand(args), {
      env: {
        ...process.env,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ACCESS_KEY_ID: 'AKIAKILLTESTFAKE0000',
        AWS_SECRET_ACCESS_KEY: 'fake',
        AWS_REGION: 'eu-west-1',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (options.killOn?.test(stderr)) child.kill('SIGKILL');
    });
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

interface RunJson {
  run: { runId: string };
  findings: { id: string; status: string; change: string }[];
}

let root: string;
let exportDir: string;
let stateDir: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'aa-kill-'));
  exportDir = join(root, 'export');
  stateDir = join(root, 'state');
  await writeFailingExport(exportDir, USERS);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const run = (extra: string[] = [], options: { env?: Record<string, string>; killOn?: RegExp } = {}) =>
  cli(['run', '--from', exportDir, '--state-dir', stateDir, '--format', 'json', ...extra], options);

async function storedRuns(): Promise<string[]> {
  const { code, stdout } = await runCli(['runs', '--state-dir', stateDir, '--account', ACCOUNT, '--limit', '50', '--format', 'json']);
  expect(code).toBe(0);
  return (JSON.parse(stdout) as { runId: string }[]).map((r) => r.runId);
}

async function openFindings(): Promise<string[]> {
  const { code, stdout } = await runCli(['findings', '--state-dir', stateDir, '--account', ACCOUNT, '--format', 'json']);
  expect(code).toBe(0);
  return (JSON.parse(stdout) as { id: string }[]).map((f) => f.id).sort();
}

const alerting = (r: RunJson) => r.findings.filter((f) => f.status === 'FAIL' || f.status === 'ERROR');

describe('kill -9 during a save of 10,000 failing users', () => {
  it('loses nothing reported and hides nothing unreported, at every kill point', async () => {
    // 1. Killed from outside while the current state is being written: nothing completed.
    const k1 = await run([], { killOn: /saving the state: .*\n.*saving the state: /s });
    expect(k1.signal).toBe('SIGKILL');
    expect(await storedRuns()).toEqual([]);

    // 2. Killed after every finding, history item and the account entry, just before the run record.
    const k2 = await run([], { env: { ACCOUNT_AUDITOR_TEST_KILL_AT: 'account:1' } });
    expect(k2.signal).toBe('SIGKILL');
    expect(k2.stderr).toMatch(/saving the state: (\d+) of \1 findings/);
    expect(await storedRuns()).toEqual([]);
    expect(await openFindings()).toEqual([]);

    // 3. The next complete run: no run completed before, so every FAIL and ERROR is new.
    const r3 = await run();
    expect(r3.code).toBe(2); // ERROR findings: the generated export has no regional files
    const third = JSON.parse(r3.stdout) as RunJson;
    expect(alerting(third).length).toBeGreaterThanOrEqual(USERS);
    expect(alerting(third).filter((f) => f.change !== 'new')).toEqual([]);
    expect(await storedRuns()).toEqual([third.run.runId]);
    const some = alerting(third).find((f) => f.id.includes('#access-key-age#'))!.id;
    const history = JSON.parse((await runCli(['history', some, '--state-dir', stateDir, '--format', 'json'])).stdout) as {
      runId: string;
      change: string;
    }[];
    expect(history.map((h) => [h.runId, h.change])).toEqual([[third.run.runId, 'new']]);

    // 4. A run that resolves every key finding (a limit no key reaches), killed right after its
    // run record: it completed, so it counts, though it never re-indexed what it resolved.
    const k4 = await run(['--max-key-age', '3650'], { env: { ACCOUNT_AUDITOR_TEST_KILL_AT: 'committed:1' } });
    expect(k4.signal).toBe('SIGKILL');
    const runs = await storedRuns();
    expect(runs).toHaveLength(2);
    expect(runs[1]).toBe(third.run.runId);
    const open = await openFindings();
    expect(open.filter((id) => id.includes('#access-key-age#'))).toEqual([]);
    const openAfterThird = third.findings.filter((f) => f.status !== 'PASS').map((f) => f.id);
    expect(open).toEqual(openAfterThird.filter((id) => !id.includes('#access-key-age#')).sort());
    const after = JSON.parse((await runCli(['history', some, '--state-dir', stateDir, '--format', 'json'])).stdout) as {
      runId: string;
      change: string;
    }[];
    expect(after.map((h) => [h.runId, h.change])).toEqual([
      [third.run.runId, 'new'],
      [runs[0], 'resolved'],
    ]);
  }, 180_000);
});
