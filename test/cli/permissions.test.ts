/**
 * The permission matrix, end to end through the command line, for every AWS call the collectors
 * make (LIVE_READ_ACTIONS): AccessDenied on that call alone yields ERROR findings for exactly the
 * checks that needed it, every other check still reports a real status, the exit code is 2, the
 * stored run record says the run is incomplete and which permission it lacked, and the published
 * alert (email text and JSON `default`) names the checks that could not run and the permission to
 * allow. Any other error on the same call gives the same ERRORs, and the alert names the error
 * instead of a permission.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  GenerateCredentialReportCommand,
  GetAccountAuthorizationDetailsCommand,
  GetAccountSummaryCommand,
  GetCredentialReportCommand,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import { runCli } from '#test/cli.ts';
import type { CheckId } from '#lib/checks/catalogue.ts';
import { LIVE_READ_ACTIONS } from '#lib/inventory/registry.ts';
import type { AlertSummary } from '#lib/notify/alert.ts';
import type { RunRecord } from '#lib/reconcile/types.ts';
import { daxError, elastiCacheError, FIXTURE_NOW, iamError } from '#test/aws.ts';
import { iam, resetAws, serveRegions } from '#test/mock-aws.ts';
import { serveSmallAccount } from '#test/small-account.ts';

interface JsonOutput {
  run: RunRecord;
  findings: { checkId: CheckId; status: string; title: string; details: Record<string, unknown> }[];
}

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:account-auditor-alerts';
const sns = mockClient(SNSClient);
let stateDir: string;

const cli = runCli;

/** One audit with a local state folder and a (mocked) topic, as a nightly run would do it. */
async function audit(): Promise<{
  code: number;
  out: JsonOutput;
  stored: RunRecord;
  alert: { subject: string; summary: AlertSummary; email: string; attributes: Record<string, { StringValue?: string }> };
}> {
  const run = await cli(['run', '--region', 'us-east-1', '--format', 'json', '--quiet', '--state-dir', stateDir, '--topic', TOPIC]);
  const out = JSON.parse(run.stdout) as JsonOutput;
  const runs = await cli(['runs', '--state-dir', stateDir, '--format', 'json']);
  const [stored, ...older] = JSON.parse(runs.stdout) as RunRecord[];
  expect(older).toEqual([]);
  const published = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
  expect(published).toHaveLength(1);
  const input = published[0]!;
  const message = JSON.parse(input.Message!) as { default: string; email: string };
  return {
    code: run.code,
    out,
    stored: stored!,
    alert: {
      subject: input.Subject!,
      summary: JSON.parse(message.default) as AlertSummary,
      email: message.email,
      attributes: input.MessageAttributes as Record<string, { StringValue?: string }>,
    },
  };
}

const ALL: CheckId[] = [
  'root-access-key',
  'access-key-age',
  'user-full-access',
  'elasticache-service-linked-role',
  'dax-service-role',
  'role-full-access',
];

/**
 * `fail(code)`: that call alone fails with this error code. `errorChecks`: the checks that end in
 * ERROR; `readBy`: every check that reads the source (root-access-key reads the credential report
 * but the real-time summary decides it, so it still runs).
 */
const matrix: { call: string; denied: string; fail: (code: string) => void; errorChecks: CheckId[]; readBy: CheckId[] }[] = [
  {
    call: 'iam:GetAccountSummary',
    denied: 'AccessDenied',
    fail: (code) => iam.on(GetAccountSummaryCommand).rejects(iamError(code)),
    errorChecks: ['root-access-key'],
    readBy: ['root-access-key'],
  },
  {
    call: 'iam:GenerateCredentialReport',
    denied: 'AccessDenied',
    fail: (code) => iam.on(GenerateCredentialReportCommand).rejects(iamError(code)),
    errorChecks: ['access-key-age'],
    readBy: ['root-access-key', 'access-key-age'],
  },
  {
    call: 'iam:GetCredentialReport',
    denied: 'AccessDenied',
    fail: (code) => iam.on(GetCredentialReportCommand).rejects(iamError(code)),
    errorChecks: ['access-key-age'],
    readBy: ['root-access-key', 'access-key-age'],
  },
  {
    call: 'iam:GetAccountAuthorizationDetails',
    denied: 'AccessDenied',
    fail: (code) => iam.on(GetAccountAuthorizationDetailsCommand).rejects(iamError(code)),
    errorChecks: ['user-full-access', 'elasticache-service-linked-role', 'dax-service-role', 'role-full-access'],
    // access-key-age reads it to find users missing from the report; without it, the report alone decides.
    readBy: ['access-key-age', 'user-full-access', 'elasticache-service-linked-role', 'dax-service-role', 'role-full-access'],
  },
  {
    call: 'elasticache:DescribeCacheClusters',
    denied: 'AccessDenied',
    fail: (code) => serveRegions({ 'us-east-1': { cacheClustersError: elastiCacheError(code), daxClusters: [] } }),
    errorChecks: ['elasticache-service-linked-role'],
    readBy: ['elasticache-service-linked-role'],
  },
  {
    call: 'elasticache:DescribeReplicationGroups',
    denied: 'AccessDenied',
    fail: (code) => serveRegions({ 'us-east-1': { replicationGroupsError: elastiCacheError(code), daxClusters: [] } }),
    errorChecks: ['elasticache-service-linked-role'],
    readBy: ['elasticache-service-linked-role'],
  },
  {
    call: 'dax:DescribeClusters',
    denied: 'AccessDeniedException',
    fail: (code) => serveRegions({ 'us-east-1': { daxError: daxError(code) } }),
    errorChecks: ['dax-service-role'],
    readBy: ['dax-service-role'],
  },
  // Key IDs only enrich access-key-age: no status depends on them, but the run is still incomplete.
  {
    call: 'iam:ListAccessKeys',
    denied: 'AccessDenied',
    fail: (code) => iam.on(ListAccessKeysCommand).rejects(iamError(code)),
    errorChecks: [],
    readBy: ['access-key-age'],
  },
];

/** Not a permission problem, and not retried by the SDK: the alert must name the error, not a permission. */
const OTHER_ERROR = 'ValidationError';

const sorted = (values: readonly string[]) => [...values].sort();

describe('AccessDenied on one call, end to end', () => {
  beforeEach(async () => {
    resetAws('us-east-1');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(FIXTURE_NOW);
    serveSmallAccount();
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'message-1' });
    stateDir = await mkdtemp(join(tmpdir(), 'aa-permissions-'));
  });
  afterEach(async () => {
    vi.useRealTimers();
    vi.unstubAllEnvs();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('the matrix covers every call the live collectors make, and nothing else', () => {
    expect(sorted(matrix.map((m) => m.call))).toEqual(sorted(LIVE_READ_ACTIONS));
  });

  it('with every permission: no ERROR, exit 1 (alice is an admin), every source read, nothing missing', async () => {
    const { code, out, stored, alert } = await audit();
    expect(out.findings.filter((f) => f.status === 'ERROR')).toEqual([]);
    expect(out.run.complete).toBe(true);
    expect(new Set(out.findings.map((f) => f.checkId))).toEqual(new Set(ALL));
    expect(code).toBe(1);
    expect(stored).toMatchObject({ complete: true, checksInError: [], missingPermissions: [] });
    expect(stored.sources.every((s) => s.state === 'read')).toBe(true);
    expect(alert.summary).toMatchObject({ complete: true, checksInError: [], missingPermissions: [], unreadSources: [] });
    expect(alert.email).not.toContain('issing permission');
    expect(alert.email).not.toContain('NOT READ');
  });

  it.each(matrix)(
    '$call denied: ERROR on exactly $errorChecks, exit 2, the run record and the alert name the checks and the permission',
    async ({ call, denied, fail, errorChecks, readBy }) => {
      fail(denied);
      const { code, out, stored, alert } = await audit();

      // Findings: exactly the dependent checks in ERROR, each naming the call; the others real verdicts.
      const inError = new Set(out.findings.filter((f) => f.status === 'ERROR').map((f) => f.checkId));
      expect(sorted([...inError])).toEqual(sorted(errorChecks));
      for (const f of out.findings.filter((x) => x.status === 'ERROR')) expect(JSON.stringify(f)).toContain(call);
      for (const id of ALL.filter((c) => !errorChecks.includes(c))) {
        const statuses = out.findings.filter((f) => f.checkId === id).map((f) => f.status);
        expect(statuses.length, id).toBeGreaterThan(0);
        expect(statuses, id).not.toContain('ERROR');
      }
      expect(code).toBe(2);

      // The stored run record: incomplete, the unread source with its call and code, the permission, per check too.
      expect(stored.runId).toBe(out.run.runId);
      expect(stored.complete).toBe(false);
      expect(stored.sources.filter((s) => s.state === 'unread')).toEqual([expect.objectContaining({ call, code: denied })]);
      expect(stored.missingPermissions).toEqual([call]);
      expect(sorted(stored.checksInError.map((c) => c.checkId))).toEqual(sorted(errorChecks));
      for (const c of stored.checksInError) expect(c.missingPermissions, c.checkId).toEqual([call]);
      expect(out.run).toMatchObject({ complete: false, missingPermissions: [call] });

      // The alert's JSON summary.
      const { summary, email } = alert;
      expect(summary).toMatchObject({ kind: 'findings', complete: false, missingPermissions: [call] });
      expect(sorted(summary.checksInError.map((c) => c.checkId))).toEqual(sorted(errorChecks));
      for (const c of summary.checksInError) expect(c.missingPermissions, c.checkId).toEqual([call]);
      expect(summary.unreadSources).toEqual([expect.objectContaining({ call, code: denied, missingPermission: call, checks: readBy })]);
      expect(alert.attributes.complete?.StringValue).toBe('false');
      expect(alert.subject).toContain('sources not read: 1');
      if (errorChecks.length > 0) expect(alert.subject).toContain(`checks in ERROR: ${errorChecks.length}`);

      // The alert's email text.
      expect(email).toContain(`Missing permissions: ${call}: allow them for the auditor's role`);
      expect(email).toContain(`CHECKS IN ERROR (${errorChecks.length})`);
      for (const id of errorChecks) expect(email).toContain(`- ${id} (missing permission: ${call})`);
      expect(email).toContain(`${call} failed (${denied})`);
      expect(email).toContain(`    missing permission: ${call}\n    read by: ${readBy.join(', ')}`);
    },
  );

  it.each(matrix)(
    `$call failing with ${OTHER_ERROR}: the same ERRORs, and the alert names the error, not a permission`,
    async ({ call, fail, errorChecks, readBy }) => {
      fail(OTHER_ERROR);
      const { code, out, stored, alert } = await audit();

      expect(sorted([...new Set(out.findings.filter((f) => f.status === 'ERROR').map((f) => f.checkId))])).toEqual(sorted(errorChecks));
      expect(code).toBe(2);

      expect(stored.complete).toBe(false);
      expect(stored.sources.filter((s) => s.state === 'unread')).toEqual([expect.objectContaining({ call, code: OTHER_ERROR })]);
      expect(stored.missingPermissions).toEqual([]);
      for (const c of stored.checksInError) expect(c.missingPermissions, c.checkId).toEqual([]);

      expect(alert.summary.missingPermissions).toEqual([]);
      expect(sorted(alert.summary.checksInError.map((c) => c.checkId))).toEqual(sorted(errorChecks));
      expect(alert.summary.unreadSources).toEqual([
        expect.objectContaining({ call, code: OTHER_ERROR, missingPermission: null, checks: readBy }),
      ]);
      expect(alert.email).toContain(`${call} failed (${OTHER_ERROR}): ${OTHER_ERROR} (fixture)`);
      for (const id of errorChecks) expect(alert.email).toContain(`- ${id}\n`);
      expect(alert.email).not.toContain('issing permission');
    },
  );

  it('iam:ListAccessKeys denied: the over-age key still FAILs, and its details say why it has no key ID', async () => {
    iam.on(ListAccessKeysCommand).rejects(iamError('AccessDenied'));
    const { out } = await audit();
    const bob = out.findings.find((f) => f.checkId === 'access-key-age' && f.status === 'FAIL')!;
    expect(bob.title).toContain('bob');
    expect(bob.details.keyIdLookup).toMatchObject({ call: 'iam:ListAccessKeys', code: 'AccessDenied' });
  });

  it('two calls denied: the record and the alert list both permissions, each check with its own', async () => {
    iam.on(GetAccountSummaryCommand).rejects(iamError('AccessDenied'));
    serveRegions({ 'us-east-1': { daxError: daxError('AccessDeniedException') } });
    const { stored, alert } = await audit();
    expect(stored.missingPermissions).toEqual(['dax:DescribeClusters', 'iam:GetAccountSummary']);
    const perCheck = Object.fromEntries(alert.summary.checksInError.map((c) => [c.checkId, c.missingPermissions]));
    expect(perCheck).toEqual({ 'root-access-key': ['iam:GetAccountSummary'], 'dax-service-role': ['dax:DescribeClusters'] });
    expect(alert.email).toContain('Missing permissions: dax:DescribeClusters, iam:GetAccountSummary');
  });

  it('the human report and `runs` say which permission is missing', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).rejects(iamError('AccessDenied'));
    const run = await cli(['run', '--region', 'us-east-1', '--quiet', '--state-dir', stateDir]);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('authorization details: iam:GetAccountAuthorizationDetails (AccessDenied): ');
    expect(run.stdout).toContain('[missing permission: iam:GetAccountAuthorizationDetails]');
    expect(run.stdout).toContain(
      "missing permissions: iam:GetAccountAuthorizationDetails (allow them for the auditor's role, then run again)",
    );
    const runs = await cli(['runs', '--state-dir', stateDir]);
    // The table wraps and cuts its cells; `runs --format json` has the full record (see the matrix).
    expect(runs.stdout).toMatch(/missing[\s│]+iam:GetAccount/);
  });
});
