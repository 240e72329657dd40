/**
 * The command line over an organization's state: `findings --account` for one or several accounts,
 * and `runs --org`, the organization run records the summarize step writes.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_DIR } from '#lib/cli/main.ts';
import { startLocalStore } from '#lib/store/local.ts';
import type { OrganizationRunRecord } from '#lib/store/organization-runs.ts';
import { FindingsStore } from '#lib/store/store.ts';
import { cliCommand, runCli } from '#test/cli.ts';

const cli = (...args: string[]) => runCli(args);
const OTHER = '210987654321';

let stateDir: string;
let exportDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'aa-org-state-'));
  exportDir = await mkdtemp(join(tmpdir(), 'aa-org-export-'));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
  await rm(exportDir, { recursive: true, force: true });
});

/** The demo account's export as another account: every ARN and the caller identity rewritten. */
async function otherAccount(): Promise<string> {
  await cp(DEMO_DIR, exportDir, { recursive: true });
  await writeFile(
    join(exportDir, 'caller-identity.json'),
    JSON.stringify({ UserId: 'AIDAX', Account: OTHER, Arn: `arn:aws:iam::${OTHER}:user/auditor` }),
  );
  for (const file of ['account-authorization-details.json', 'credential-report.json']) {
    let text = await readFile(join(exportDir, file), 'utf8');
    if (file === 'credential-report.json') {
      const json = JSON.parse(text) as { Content: string };
      json.Content = Buffer.from(Buffer.from(json.Content, 'base64').toString('utf8').replaceAll('123456789012', OTHER)).toString('base64');
      text = JSON.stringify(json);
    } else text = text.replaceAll('123456789012', OTHER);
    await writeFile(join(exportDir, file), text);
  }
  return exportDir;
}

function orgRun(startedAt: string, id: string, failed: string[]): OrganizationRunRecord {
  const perAccount = [
    {
      id: '123456789012',
      name: 'demo',
      state: 'complete' as const,
      runId: 'run-1',
      counts: { total: 20, PASS: 6, FAIL: 14, WARN: 0, ERROR: 0 },
      reason: null,
    },
    ...failed.map((a) => ({
      id: a,
      name: `name-${a}`,
      state: 'failed' as const,
      runId: null,
      counts: null,
      reason: 'States.Timeout: Task timed out',
    })),
  ];
  return {
    organizationRunId: id,
    startedAt,
    summarizedAt: startedAt,
    discovery: { listed: perAccount.length, active: perAccount.length, filteredOut: 0, missing: [] },
    accounts: perAccount.length,
    complete: 1,
    incomplete: 0,
    failed: failed.length,
    totals: { total: 20, PASS: 6, FAIL: 14, WARN: 0, ERROR: 0 },
    perAccount,
    inError: perAccount.filter((l) => l.state === 'failed'),
    alert: {
      mode: 'digest',
      wanted: failed.length > 0,
      messageId: failed.length > 0 ? 'msg-7' : null,
      reason: failed.length > 0 ? 'accounts in ERROR' : 'nothing to report',
    },
  };
}

async function seedOrganizationRuns(records: OrganizationRunRecord[]): Promise<void> {
  const local = await startLocalStore(stateDir);
  try {
    const store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 });
    for (const r of records) await store.putOrganizationRun(r);
  } finally {
    await local.close();
  }
}

describe('findings --account', () => {
  beforeEach(async () => {
    await cli('run', '--from', DEMO_DIR, '--state-dir', stateDir, '--quiet');
    await cli('run', '--from', await otherAccount(), '--state-dir', stateDir, '--quiet');
  });

  it('one account, or several (comma-separated or repeated): each one’s open findings, most severe first', async () => {
    type Row = { accountId: string; severity: string };
    const json = async (...args: string[]) =>
      JSON.parse((await cli('findings', '--state-dir', stateDir, '--format', 'json', ...args)).stdout) as Row[];
    const demo = await json('--account', '123456789012');
    const other = await json('--account', OTHER);
    expect(demo.length).toBeGreaterThan(0);
    expect(new Set(demo.map((f) => f.accountId))).toEqual(new Set(['123456789012']));
    expect(new Set(other.map((f) => f.accountId))).toEqual(new Set([OTHER]));
    const both = await json('--account', `123456789012,${OTHER}`);
    expect(both).toHaveLength(demo.length + other.length);
    expect(both[0]!.severity).toBe('critical');
    expect(await json('--account', '123456789012', '--account', OTHER)).toEqual(both);
    const critical = await json('--account', `123456789012,${OTHER}`, '--severity', 'critical');
    expect(critical.every((f) => f.severity === 'critical')).toBe(true);
    expect(new Set(critical.map((f) => f.accountId))).toEqual(new Set(['123456789012', OTHER]));
  });

  it('an ID that is not an account ID, or an account without runs, is refused by name', async () => {
    const bad = await cli('findings', '--state-dir', stateDir, '--account', '12345');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--account must be 12-digit AWS account IDs, got "12345"');
    const unknown = await cli('findings', '--state-dir', stateDir, '--account', `${OTHER},333333333333`);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('for account 333333333333');
  });
});

describe('runs --org', () => {
  it('the organization runs, newest first: accounts by state, the accounts in ERROR, the digest', async () => {
    await seedOrganizationRuns([
      orgRun('2026-11-01T03:00:00.000Z', 'org-a', []),
      orgRun('2026-11-02T03:00:00.000Z', 'org-b', ['222222222222', '333333333333']),
    ]);
    const json = JSON.parse((await cli('runs', '--org', '--state-dir', stateDir, '--format', 'json')).stdout) as OrganizationRunRecord[];
    expect(json.map((r) => r.organizationRunId)).toEqual(['org-b', 'org-a']);
    expect(json[0]).toEqual(orgRun('2026-11-02T03:00:00.000Z', 'org-b', ['222222222222', '333333333333']));
    const { code, stdout } = await cli('runs', '--org', '--state-dir', stateDir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/org-b +│ 3 +│ 1 \/ 0 \/ 2 +│ digest: published \(msg-7\) +│ 222222222222 \(failed\), 333333333333/);
    expect(stdout).toMatch(/org-a +│ 1 +│ 1 \/ 0 \/ 0 +│ digest: nothing to report +│ none/);
    expect((await cli('runs', '--org', '--limit', '1', '--state-dir', stateDir, '--format', 'json')).stdout).not.toContain('org-a');
  });

  it('no organization run yet says so; --org with --account is refused', async () => {
    await cli('run', '--from', DEMO_DIR, '--state-dir', stateDir, '--quiet');
    expect((await cli('runs', '--org', '--state-dir', stateDir)).stdout).toContain('no organization runs stored yet');
    const both = await cli('runs', '--org', '--account', '123456789012', '--state-dir', stateDir);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('leave out --account');
  });

  it('the built command line lists them too', async () => {
    await seedOrganizationRuns([orgRun('2026-11-02T03:00:00.000Z', 'org-b', ['222222222222'])]);
    const [command, args] = cliCommand(['runs', '--org', '--state-dir', stateDir, '--format', 'json']);
    const out = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
    expect(out.status).toBe(0);
    expect((JSON.parse(out.stdout) as OrganizationRunRecord[]).map((r) => r.inError.map((l) => l.id))).toEqual([['222222222222']]);
  });
});
