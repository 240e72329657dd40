/**
 * One account of an organization run (lib/audit/member-audit.ts) and the command line's pool over
 * the accounts (lib/organization/pool.ts), on the demo account with in-memory fakes: credentials
 * from a fake provider, the pipeline's repository and publisher from test/support/fakes.ts.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { auditMemberAccount, memberChecks, type MemberAuditOptions } from '#lib/audit/member-audit.ts';
import { DEMO_DIR } from '#lib/cli/main.ts';
import { DEFAULT_CHECK_IDS } from '#lib/checks/catalogue.ts';
import { unreadSource } from '#lib/inventory/failure.ts';
import { loadOffline } from '#lib/inventory/offline.ts';
import type { Inventory } from '#lib/inventory/types.ts';
import type { MapAccount } from '#lib/organization/contract.ts';
import { assumeRoleFailure } from '#lib/organization/member-credentials.ts';
import { auditAccounts } from '#lib/organization/pool.ts';
import { parseSettings } from '#lib/settings.ts';
import { MemoryFindingsRepository, RecordingPublisher } from '#test/fakes.ts';

const DEMO = '123456789012';
const ROLE = `arn:aws:iam::${DEMO}:role/AccountAuditorMemberRole`;
const MEMBER: MapAccount = { id: DEMO, name: 'demo', roleArn: ROLE, externalId: 'tooling-7f3a' };
const ORGANIZATION = { id: 'o-abcdefghij', accountIds: [DEMO], guardrails: { state: 'read' as const, data: [] } };
const CREDENTIALS = { accessKeyId: 'ASIA', secretAccessKey: 's', sessionToken: 't', expiration: new Date('2026-11-01T04:00:00Z') };

function accessDenied(): Error {
  const error = new Error(
    `User: arn:aws:sts::999999999999:assumed-role/AccountAuditorOrganizationAudit/x is not authorized to perform: sts:AssumeRole on resource: ${ROLE}`,
  );
  error.name = 'AccessDenied';
  return error;
}

let store: MemoryFindingsRepository;
let alerts: RecordingPublisher;
let collected: { credentials: unknown; organization: Inventory['organization'] }[];

beforeEach(() => {
  store = new MemoryFindingsRepository();
  alerts = new RecordingPublisher();
  collected = [];
});

function options(fields: Partial<MemberAuditOptions> = {}): MemberAuditOptions {
  return {
    organizationRunId: '20261101T030000123Z-nightly',
    account: MEMBER,
    organization: ORGANIZATION,
    settings: parseSettings({}),
    trigger: 'schedule',
    credentialsFor: () => async () => CREDENTIALS,
    collect: async (request) => {
      collected.push({ credentials: request.credentials, organization: request.organization });
      return { ...(await loadOffline(DEMO_DIR)), ...(request.organization ? { organization: request.organization } : {}) };
    },
    store,
    publisher: alerts,
    now: () => new Date('2026-11-01T03:00:00Z'),
    ...fields,
  };
}

const failing = () => async () => {
  throw accessDenied();
};

describe('auditMemberAccount', () => {
  it('the role assumed: the settings’ checks and organization (PASS), on the member credentials, with the organization context', async () => {
    const provider = vi.fn(async () => CREDENTIALS);
    const { pipeline, state, access } = await auditMemberAccount(options({ credentialsFor: () => provider }));
    expect(pipeline.result.run.checks).toEqual([...DEFAULT_CHECK_IDS, 'organization']);
    expect(collected).toHaveLength(1);
    expect(collected[0]!.credentials).toBe(provider);
    expect(collected[0]!.organization).toEqual({ ...ORGANIZATION, access });
    expect(access).toEqual({ roleArn: ROLE, assumed: { state: 'read', data: { at: '2026-11-01T03:00:00.000Z' } } });
    const org = pipeline.result.findings.filter((f) => f.checkId === 'organization');
    expect(org).toMatchObject([{ status: 'PASS', resource: `arn:aws:iam::${DEMO}:root` }]);
    expect(state).toBe(pipeline.result.run.complete ? 'complete' : 'incomplete');
    expect(pipeline.saved).not.toBeNull();
  });

  it('AssumeRole refused: exactly one ERROR organization finding, nothing read, saved and alerted, nothing else resolved', async () => {
    await auditMemberAccount(options()); // a night where the role worked: the demo's findings are stored
    const before = await store.loadKnown(DEMO);
    alerts.published.length = 0;

    const { pipeline, state, access } = await auditMemberAccount(options({ credentialsFor: failing }));
    expect(state).toBe('failed');
    expect(collected).toHaveLength(1); // only the first night collected
    expect(access.assumed).toMatchObject({ state: 'unread', call: 'sts:AssumeRole', code: 'AccessDenied', kind: 'denied' });
    expect(pipeline.result.run.checks).toEqual(['organization']);
    expect(pipeline.result.run.complete).toBe(false);
    expect(pipeline.result.findings).toHaveLength(1);
    const [f] = pipeline.result.findings;
    expect(f).toMatchObject({ checkId: 'organization', status: 'ERROR', accountId: DEMO, resource: `arn:aws:iam::${DEMO}:root` });
    expect(f!.title).toContain(ROLE);
    expect(f!.title).toMatch(/the member role does not exist in the account, or its trust policy does not admit/);
    // Alerted like any new ERROR, and saved: the other checks' findings stay as they were.
    expect(alerts.published).toHaveLength(1);
    expect(pipeline.reconciled.run.counts).toMatchObject({ resolved: 0 });
    const after = await store.loadKnown(DEMO);
    for (const [id, finding] of before.state) if (finding.checkId !== 'organization') expect(after.state.get(id)).toEqual(finding);
  });

  it('credentials that belong to another account: one ERROR organization finding under the map item’s account, nothing stored for the other', async () => {
    const OTHER = '999999999999';
    const { pipeline, state, access } = await auditMemberAccount(
      options({ collect: async () => ({ ...(await loadOffline(DEMO_DIR)), accountId: OTHER }) }),
    );
    expect(state).toBe('failed');
    expect(access.assumed).toMatchObject({ state: 'unread', call: 'sts:GetCallerIdentity', code: 'OtherAccount' });
    expect(pipeline.result.findings).toMatchObject([{ checkId: 'organization', status: 'ERROR', accountId: DEMO }]);
    expect(pipeline.result.findings[0]!.title).toContain(`belong to account ${OTHER}`);
    expect((await store.loadKnown(OTHER)).state.size).toBe(0);
  });

  it('an account the collection could not identify is the map item’s', async () => {
    const { pipeline } = await auditMemberAccount(
      options({
        collect: async (request) => ({ ...(await loadOffline(DEMO_DIR)), accountId: 'unknown', organization: request.organization! }),
      }),
    );
    expect(pipeline.result.run.accountId).toBe(DEMO);
    expect(pipeline.result.findings.find((f) => f.checkId === 'organization')).toMatchObject({ status: 'PASS', accountId: DEMO });
  });

  it('the auditor’s own account (roleArn null): its own credentials, organization PASS', async () => {
    const credentialsFor = vi.fn(() => null);
    const { pipeline, access } = await auditMemberAccount(
      options({ account: { id: DEMO, name: 'tooling', roleArn: null }, credentialsFor }),
    );
    expect(collected[0]!.credentials).toBeUndefined();
    expect(access).toEqual({ roleArn: null, assumed: { state: 'read', data: { at: null } } });
    expect(pipeline.result.findings.find((f) => f.checkId === 'organization')).toMatchObject({ status: 'PASS' });
  });

  it('an inventory of another account than the item’s is refused, never filed under the item’s account', async () => {
    const other = { id: '222222222222', name: 'payments', roleArn: null };
    const { state, pipeline } = await auditMemberAccount(options({ account: other, credentialsFor: () => null }));
    expect(state).toBe('failed');
    expect(pipeline.result.findings).toMatchObject([{ checkId: 'organization', status: 'ERROR', accountId: '222222222222' }]);
    expect((await store.loadKnown(DEMO)).state.size).toBe(0);
  });

  it('resolves the credentials once before collecting: the AssumeRole check', async () => {
    const provider = vi.fn(async () => CREDENTIALS);
    await auditMemberAccount(
      options({
        credentialsFor: () => provider,
        collect: async () => {
          expect(provider).toHaveBeenCalledTimes(1);
          return loadOffline(DEMO_DIR);
        },
      }),
    );
    expect(provider).toHaveBeenCalledTimes(1);
  });

  it('guardrails unread (a damaged context): the full-access checks say ERROR naming why, never PASS', async () => {
    const guardrails = unreadSource(
      'dynamodb:GetItem',
      'the SCP chain is unknown: item ORGRUN#x GUARDRAILS#0 does not exist',
      'InvalidContext',
    );
    const { pipeline } = await auditMemberAccount(options({ organization: { ...ORGANIZATION, guardrails } }));
    for (const checkId of ['user-full-access', 'role-full-access'] as const) {
      const findings = pipeline.result.findings.filter((f) => f.checkId === checkId);
      expect(findings.length, checkId).toBeGreaterThan(0);
      expect(
        findings.some((f) => f.status === 'PASS'),
        checkId,
      ).toBe(false);
      expect(JSON.stringify(findings.filter((f) => f.status === 'ERROR'))).toContain('GUARDRAILS#0 does not exist');
    }
  });

  it('settings naming checks: those and organization', () => {
    expect(memberChecks(parseSettings({ checks: ['root-access-key'] }))).toEqual(['root-access-key', 'organization']);
    expect(memberChecks(parseSettings({ checks: ['organization'] }))).toEqual(['organization']);
  });
});

describe('assumeRoleFailure: why, classified where the call failed', () => {
  const named = (name: string, message: string, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(message), { name, ...extra });
  it.each([
    [named('AccessDenied', 'not authorized to perform: sts:AssumeRole'), /^refused: the member role does not exist/, 'denied'],
    [
      named('AccessDenied', 'not authorized to perform: sts:AssumeRole with an explicit deny in a service control policy'),
      /^denied by an explicit Deny/,
      'denied',
    ],
    [named('Throttling', 'Rate exceeded'), /^throttled/, 'throttled'],
    [named('TimeoutError', 'Connection timed out after 5000 ms'), /^timed out/, 'failed'],
    [named('Error', 'socket hang up', { code: 'ECONNRESET' }), /^timed out/, 'failed'],
    [
      named('ExpiredToken', 'The security token included in the request is expired'),
      /^the auditor’s own credentials were refused/,
      'failed',
    ],
    [named('RegionDisabledException', 'STS is not activated'), /^STS is not activated in this region/, 'failed'],
  ])('%s', (error, reason, kind) => {
    const unread = assumeRoleFailure(error);
    expect(unread).toMatchObject({ state: 'unread', call: 'sts:AssumeRole', kind });
    expect(unread.reason).toMatch(reason);
    expect(unread.reason).toContain(error.message);
  });
});

describe('auditAccounts: the command line’s bounded pool', () => {
  const accounts: MapAccount[] = ['111111111111', '222222222222', '333333333333', '444444444444'].map((id) => ({
    id,
    name: `a-${id}`,
    roleArn: `arn:aws:iam::${id}:role/AccountAuditorMemberRole`,
  }));

  it('an account whose role cannot be assumed gets its ERROR; the others go on; results in input order', async () => {
    const results = await auditAccounts(accounts, {
      concurrency: 2,
      auditOne: (account) =>
        auditMemberAccount(
          options({
            account,
            credentialsFor: account.id === '222222222222' ? failing : () => async () => CREDENTIALS,
            collect: async () => ({ ...(await loadOffline(DEMO_DIR)), accountId: account.id }),
          }),
        ),
    });
    expect(results.map((r) => r.account.id)).toEqual(accounts.map((a) => a.id));
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    const states = results.map((r) => (r.status === 'fulfilled' ? r.value.state : 'rejected'));
    expect(states[1]).toBe('failed');
    expect(states.filter((s) => s === 'failed')).toHaveLength(1);
    const failed = results[1]!.status === 'fulfilled' ? results[1]!.value.pipeline.result.findings : [];
    expect(failed).toMatchObject([{ checkId: 'organization', status: 'ERROR', accountId: '222222222222' }]);
  });

  it('an audit that throws is that account’s rejected result, never the others’; at most `concurrency` at once', async () => {
    let running = 0;
    let peak = 0;
    const events: string[] = [];
    const results = await auditAccounts(accounts, {
      concurrency: 2,
      auditOne: async (account, index) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, (4 - index) * 3));
        running--;
        if (account.id === '111111111111') throw new Error('state not saved');
        return account.id;
      },
      onProgress: (p) => {
        events.push(p.event === 'started' ? `start ${p.account.id}` : `end ${p.result.account.id} ${p.result.status}`);
        if (p.event === 'finished' && p.done === 2) throw new Error('a broken progress line');
      },
    });
    expect(peak).toBe(2);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: new Error('state not saved') });
    expect(results.slice(1).map((r) => (r.status === 'fulfilled' ? r.value : null))).toEqual(accounts.slice(1).map((a) => a.id));
    expect(events.filter((e) => e.startsWith('end'))).toHaveLength(4);
  });

  it('keeps what `keep` maps each fulfilled value to; progress still sees the full value; a throwing keep rejects that account alone', async () => {
    const told: unknown[] = [];
    const results = await auditAccounts(accounts, {
      concurrency: 2,
      auditOne: async (account) => {
        if (account.id === '444444444444') throw new Error('not audited');
        return { id: account.id, findings: [1, 2, 3] };
      },
      keep: (value, account) => {
        if (account.id === '333333333333') throw new Error('no summary');
        return { id: value.id, findings: value.findings.length };
      },
      onProgress: (p) => {
        if (p.event === 'finished' && p.result.status === 'fulfilled') told.push(p.result.value);
      },
    });
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      { id: '111111111111', findings: 3 },
      { id: '222222222222', findings: 3 },
      'no summary',
      'not audited',
    ]);
    expect(told).toContainEqual({ id: '333333333333', findings: [1, 2, 3] });
  });

  it('refuses a concurrency below 1', async () => {
    await expect(auditAccounts(accounts, { concurrency: 0, auditOne: async () => 1 })).rejects.toThrow(
      /concurrency must be a whole number/,
    );
  });
});
