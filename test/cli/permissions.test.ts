/**
 * The permission matrix, end to end through the command line: AccessDenied on any one AWS call
 * yields ERROR findings for exactly the checks that needed that call, every other check still
 * reports a real status, and the exit code is 2 (the audit is incomplete).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  GenerateCredentialReportCommand,
  GetAccountAuthorizationDetailsCommand,
  GetAccountSummaryCommand,
  GetCredentialReportCommand,
  ListAccessKeysCommand,
} from '@aws-sdk/client-iam';
import { main } from '#lib/cli/main.ts';
import type { CheckId } from '#lib/checks/ids.ts';
import {
  daxError,
  elastiCacheError,
  FIXTURE_NOW,
  iamError,
} from '../fixtures/aws.ts';
import { iam, resetAws, serveRegions } from '../inventory/mock-aws.ts';
import { serveSmallAccount } from '../inventory/small-account.ts';

interface JsonOutput {
  run: { complete: boolean; sources: { source: string; state: string; call?: string; code?: string }[]; checksInError: { checkId: CheckId }[] };
  findings: { checkId: CheckId; status: string; title: string; details: Record<string, unknown> }[];
}

async function audit(): Promise<{ code: number; out: JsonOutput; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'account-auditor', 'run', '--region', 'us-east-1', '--format', 'json', '--quiet', '--no-store'], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, out: JSON.parse(stdout) as JsonOutput, stderr };
}

const ALL: CheckId[] = ['root-access-key', 'access-key-age', 'user-full-access', 'elasticache-service-linked-role', 'dax-service-role'];

const matrix: { call: string; deny: () => void; errorChecks: CheckId[] }[] = [
  { call: 'iam:GetAccountSummary', deny: () => iam.on(GetAccountSummaryCommand).rejects(iamError('AccessDenied')), errorChecks: ['root-access-key'] },
  { call: 'iam:GenerateCredentialReport', deny: () => iam.on(GenerateCredentialReportCommand).rejects(iamError('AccessDenied')), errorChecks: ['access-key-age'] },
  { call: 'iam:GetCredentialReport', deny: () => iam.on(GetCredentialReportCommand).rejects(iamError('AccessDenied')), errorChecks: ['access-key-age'] },
  {
    call: 'iam:GetAccountAuthorizationDetails',
    deny: () => iam.on(GetAccountAuthorizationDetailsCommand).rejects(iamError('AccessDenied')),
    errorChecks: ['user-full-access', 'elasticache-service-linked-role', 'dax-service-role'],
  },
  {
    call: 'elasticache:DescribeCacheClusters',
    deny: () => serveRegions({ 'us-east-1': { cacheClustersError: elastiCacheError('AccessDenied'), daxClusters: [] } }),
    errorChecks: ['elasticache-service-linked-role'],
  },
  {
    call: 'elasticache:DescribeReplicationGroups',
    deny: () => serveRegions({ 'us-east-1': { replicationGroupsError: elastiCacheError('AccessDenied'), daxClusters: [] } }),
    errorChecks: ['elasticache-service-linked-role'],
  },
  { call: 'dax:DescribeClusters', deny: () => serveRegions({ 'us-east-1': { daxError: daxError('AccessDeniedException') } }), errorChecks: ['dax-service-role'] },
  // Key IDs only enrich access-key-age: no status depends on them, but the run is still incomplete.
  { call: 'iam:ListAccessKeys', deny: () => iam.on(ListAccessKeysCommand).rejects(iamError('AccessDenied')), errorChecks: [] },
];

describe('AccessDenied on one call, end to end', () => {
  beforeEach(() => {
    resetAws('us-east-1');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(FIXTURE_NOW);
    serveSmallAccount();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllEnvs();
  });

  it('with every permission: no ERROR, exit 1 (alice is an admin), every source read', async () => {
    const { code, out } = await audit();
    expect(out.findings.filter((f) => f.status === 'ERROR')).toEqual([]);
    expect(out.run.complete).toBe(true);
    expect(new Set(out.findings.map((f) => f.checkId))).toEqual(new Set(ALL));
    expect(code).toBe(1);
  });

  it.each(matrix)('$call denied: ERROR on exactly $errorChecks, the rest still evaluated, exit 2', async ({ call, deny, errorChecks }) => {
    deny();
    const { code, out } = await audit();
    const inError = new Set(out.findings.filter((f) => f.status === 'ERROR').map((f) => f.checkId));
    expect([...inError].sort()).toEqual([...errorChecks].sort());
    for (const f of out.findings.filter((x) => x.status === 'ERROR')) expect(JSON.stringify(f)).toContain(call);
    // The other checks ran and produced real verdicts.
    for (const id of ALL.filter((c) => !errorChecks.includes(c))) {
      const statuses = out.findings.filter((f) => f.checkId === id).map((f) => f.status);
      expect(statuses.length, id).toBeGreaterThan(0);
      expect(statuses, id).not.toContain('ERROR');
    }
    expect(out.run.complete).toBe(false);
    expect(out.run.sources.filter((s) => s.state === 'unread').map((s) => s.call)).toContain(call);
    expect(code).toBe(2);
  });

  it('iam:ListAccessKeys denied: the over-age key still FAILs, and its details say why it has no key ID', async () => {
    iam.on(ListAccessKeysCommand).rejects(iamError('AccessDenied'));
    const { out } = await audit();
    const bob = out.findings.find((f) => f.checkId === 'access-key-age' && f.status === 'FAIL')!;
    expect(bob.title).toContain('bob');
    expect(bob.details.keyIdLookup).toMatchObject({ call: 'iam:ListAccessKeys', code: 'AccessDenied' });
  });
});
