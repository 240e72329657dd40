/**
 * The SCP reader (lib/organization/guardrails.ts) against a mocked Organizations: the levels it
 * builds, the calls it makes (each counted, paged 20 at a time, each entity and policy asked
 * once), and a failed call named where it leaves something unknown.
 */
import {
  AccessDeniedException,
  DescribeOrganizationCommand,
  DescribePolicyCommand,
  ListParentsCommand,
  ListPoliciesCommand,
  ListPoliciesForTargetCommand,
  ListTargetsForPolicyCommand,
  OrganizationsClient,
  PolicyTypeNotEnabledException,
} from '@aws-sdk/client-organizations';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GuardrailLevel, Source } from '#lib/inventory/types.ts';
import { accountArnParts, chainFromPath, readGuardrails, type GuardrailAccount } from '#lib/organization/guardrails.ts';
import { organizations, requests, resetOrganizations } from '#test/mock-organizations.ts';

const MANAGEMENT = '111111111111';
const ORG = 'o-abcdefghij';
const ROOT = 'r-root';
const OU_A = 'ou-root-aaaaaaaa';
const OU_B = 'ou-root-bbbbbbbb';
const FULL = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] });
const DENY_IAM = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'DenyIam', Effect: 'Deny', Action: 'iam:*', Resource: '*' }] });

interface TestPolicy {
  id: string;
  name: string;
  /** The document, or the error DescribePolicy answers. */
  content: string | Error;
  targets: string[];
  /** The error ListTargetsForPolicy answers. */
  targetsError?: Error;
}

interface ScpOrganization {
  /** Each root, OU and account's parent (the root has none). */
  parents: Record<string, string>;
  policies: TestPolicy[];
  /** Targets whose ListPoliciesForTarget fails. */
  failing?: Record<string, Error>;
  enabled?: boolean;
}

const SERVICE_MAX_RESULTS = 20;

function page<T>(items: readonly T[], token: string | undefined, maxResults: number | undefined): { items: T[]; next?: string } {
  const size = Math.min(maxResults ?? SERVICE_MAX_RESULTS, SERVICE_MAX_RESULTS);
  const start = token ? Number(token) : 0;
  return { items: items.slice(start, start + size), ...(start + size < items.length ? { next: String(start + size) } : {}) };
}

const typeOf = (id: string) => (id.startsWith('r-') ? 'ROOT' : id.startsWith('ou-') ? 'ORGANIZATIONAL_UNIT' : 'ACCOUNT');
const summary = (p: TestPolicy) => ({
  Id: p.id,
  Name: p.name,
  Arn: `arn:aws:organizations::${MANAGEMENT}:policy/${ORG}/service_control_policy/${p.id}`,
  Type: 'SERVICE_CONTROL_POLICY' as const,
  AwsManaged: p.id === 'p-FullAWSAccess',
});
const notEnabled = () =>
  new PolicyTypeNotEnabledException({ message: 'This operation can be performed only for enabled policy types.', $metadata: {} });

function serve(org: ScpOrganization): void {
  const record = (command: string, input: object) => requests.push({ command, input: { ...input } });
  organizations.on(DescribeOrganizationCommand).callsFake(async () => {
    record('DescribeOrganization', {});
    return { Organization: { Id: ORG, MasterAccountId: MANAGEMENT } };
  });
  organizations.on(ListParentsCommand).callsFake(async (input: { ChildId: string }) => {
    record('ListParents', input);
    const parent = org.parents[input.ChildId];
    return { Parents: parent ? [{ Id: parent, Type: typeOf(parent) }] : [] };
  });
  organizations.on(ListPoliciesCommand).callsFake(async (input: { NextToken?: string; MaxResults?: number }) => {
    record('ListPolicies', input);
    const p = page(org.policies, input.NextToken, input.MaxResults);
    return { Policies: p.items.map(summary), ...(p.next ? { NextToken: p.next } : {}) };
  });
  organizations.on(ListTargetsForPolicyCommand).callsFake(async (input: { PolicyId: string; NextToken?: string; MaxResults?: number }) => {
    record('ListTargetsForPolicy', input);
    if (org.enabled === false) throw notEnabled();
    const policy = org.policies.find((p) => p.id === input.PolicyId)!;
    if (policy.targetsError) throw policy.targetsError;
    const p = page(policy.targets, input.NextToken, input.MaxResults);
    return {
      Targets: p.items.map((t) => ({ TargetId: t, Type: typeOf(t) as 'ACCOUNT', Name: t })),
      ...(p.next ? { NextToken: p.next } : {}),
    };
  });
  organizations.on(ListPoliciesForTargetCommand).callsFake(async (input: { TargetId: string; NextToken?: string; MaxResults?: number }) => {
    record('ListPoliciesForTarget', input);
    if (org.enabled === false) throw notEnabled();
    const failing = org.failing?.[input.TargetId];
    if (failing) throw failing;
    const p = page(
      org.policies.filter((x) => x.targets.includes(input.TargetId)),
      input.NextToken,
      input.MaxResults,
    );
    return { Policies: p.items.map(summary), ...(p.next ? { NextToken: p.next } : {}) };
  });
  organizations.on(DescribePolicyCommand).callsFake(async (input: { PolicyId: string }) => {
    record('DescribePolicy', input);
    const policy = org.policies.find((p) => p.id === input.PolicyId)!;
    if (policy.content instanceof Error) throw policy.content;
    return { Policy: { PolicySummary: summary(policy), Content: policy.content } };
  });
}

const denied = (what: string) =>
  new AccessDeniedException({ message: `You don't have permissions to access ${what}.`, $metadata: { httpStatusCode: 400 } });
const client = () => new OrganizationsClient({ region: 'us-east-1', maxAttempts: 1 });
const arnOf = (id: string) => `arn:aws:organizations::${MANAGEMENT}:account/${ORG}/${id}`;
const member = (id: string, ous: string[] | null): GuardrailAccount => ({
  id,
  arn: arnOf(id),
  ...(ous ? { paths: [`${ORG}/${ROOT}/${ous.map((o) => `${o}/`).join('')}${id}/`] } : {}),
});
const commands = () => requests.map((r) => r.command);
const count = (command: string) => commands().filter((c) => c === command).length;
const levelsOf = (source: Source<GuardrailLevel[]> | undefined) => {
  if (source?.state !== 'read') throw new Error(`not read: ${JSON.stringify(source)}`);
  return source.data.map((l) => ({ kind: l.kind, target: l.target, policies: l.policies.map((p) => p.name) }));
};

/**
 *   r-root ── 111111111111 (management), FullAWSAccess
 *          └─ OU_A (FullAWSAccess, DenyIam) ── 2000000000xx
 *                 └─ OU_B (FullAWSAccess) ── 3000000000xx
 */
function organization(accountsA: string[], accountsB: string[], extra: TestPolicy[] = []): ScpOrganization {
  const parents: Record<string, string> = { [OU_A]: ROOT, [OU_B]: OU_A, [MANAGEMENT]: ROOT };
  for (const a of accountsA) parents[a] = OU_A;
  for (const b of accountsB) parents[b] = OU_B;
  return {
    parents,
    policies: [
      { id: 'p-FullAWSAccess', name: 'FullAWSAccess', content: FULL, targets: [ROOT, OU_A, OU_B, MANAGEMENT, ...accountsA, ...accountsB] },
      { id: 'p-denyiam0001', name: 'DenyIam', content: DENY_IAM, targets: [OU_A] },
      ...extra,
    ],
  };
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(12 - prefix.length, '0')}`);

beforeEach(() => resetOrganizations());
afterEach(() => vi.unstubAllEnvs());

describe('paths and ARNs', () => {
  it('reads the chain from ListAccounts Paths, with or without the account at the end', () => {
    expect(chainFromPath(`${ORG}/${ROOT}/${OU_A}/${OU_B}/222222222222/`, '222222222222')).toEqual([ROOT, OU_A, OU_B]);
    expect(chainFromPath(`${ORG}/${ROOT}/`, '222222222222')).toEqual([ROOT]);
    expect(chainFromPath(`${ROOT}/${OU_A}`, '222222222222')).toEqual([ROOT, OU_A]);
    expect(chainFromPath(`${ORG}/${OU_A}/`, '222222222222')).toBeNull();
    expect(chainFromPath(`${ORG}/${ROOT}/${OU_A}/333333333333/`, '222222222222')).toBeNull();
  });

  it('reads the management account and organization from an account ARN', () => {
    expect(accountArnParts(arnOf('222222222222'))).toEqual({
      managementAccountId: MANAGEMENT,
      organizationId: ORG,
      accountId: '222222222222',
    });
    expect(accountArnParts('arn:aws:iam::222222222222:root')).toBeNull();
  });
});

describe('readGuardrails', () => {
  it('many accounts: ListTargetsForPolicy for each SCP but FullAWSAccess, which follows from them, and one DescribePolicy per applying SCP, whatever the number of accounts', async () => {
    const a = ids('2', 30);
    const b = ids('3', 15);
    const unused: TestPolicy = { id: 'p-unused00001', name: 'Unused', content: FULL, targets: ['999999999999'] };
    serve(organization(a, b, [unused]));
    const accounts = [...a.map((id) => member(id, [OU_A])), ...b.map((id) => member(id, [OU_A, OU_B])), member(MANAGEMENT, [])];
    const read = await readGuardrails({ client: client(), accounts });
    expect(read.strategy).toBe('per-policy');
    expect(read.managementAccountId).toBe(MANAGEMENT);
    expect(read.organizationId).toBe(ORG);
    // DenyIam and Unused: one page each. FullAWSAccess (attached to 49 entities, 3 pages) is not
    // listed: the root and OU_A, the one entity with another SCP, are asked; the rest hold it.
    expect(read.calls).toEqual({
      'organizations:ListPolicies': 1,
      'organizations:ListTargetsForPolicy': 2,
      'organizations:ListPoliciesForTarget': 2,
      'organizations:DescribePolicy': 2,
    });
    expect(
      inputsOfCommand('ListTargetsForPolicy')
        .map((i) => i.PolicyId)
        .sort(),
    ).toEqual(['p-denyiam0001', 'p-unused00001']);
    expect(inputsOfCommand('ListPoliciesForTarget').map((i) => i.TargetId)).toEqual([ROOT, OU_A]);
    expect(
      requests
        .filter((r) => r.command === 'DescribePolicy')
        .map((r) => r.input.PolicyId)
        .sort(),
    ).toEqual(['p-FullAWSAccess', 'p-denyiam0001']);
    expect(levelsOf(read.accounts.get(b[0]!))).toEqual([
      { kind: 'root', target: ROOT, policies: ['FullAWSAccess'] },
      { kind: 'ou', target: OU_A, policies: ['FullAWSAccess', 'DenyIam'] },
      { kind: 'ou', target: OU_B, policies: ['FullAWSAccess'] },
      { kind: 'account', target: b[0], policies: ['FullAWSAccess'] },
    ]);
    const policy = (read.accounts.get(a[0]!) as { data: GuardrailLevel[] }).data[1]!.policies[1]!;
    expect(policy).toEqual({
      id: 'p-denyiam0001',
      name: 'DenyIam',
      arn: `arn:aws:organizations::${MANAGEMENT}:policy/${ORG}/service_control_policy/p-denyiam0001`,
      awsManaged: false,
      target: OU_A,
      document: { ok: true, document: JSON.parse(DENY_IAM) },
    });
    // The management account is subject to no SCP.
    expect(read.accounts.get(MANAGEMENT)).toEqual({ state: 'read', data: [] });
    expect(inputsOfCommand('ListTargetsForPolicy').every((i) => i.MaxResults === 20)).toBe(true);
  });

  it('few accounts: one ListPoliciesForTarget per entity of the chains, and only the SCPs attached there described', async () => {
    const extra: TestPolicy[] = ['x1', 'x2', 'x3', 'x4'].map((x) => ({
      id: `p-${x}000000000`,
      name: x,
      content: FULL,
      targets: ['999999999999'],
    }));
    serve(organization(['200000000000'], [], extra));
    const read = await readGuardrails({ client: client(), accounts: [member('200000000000', [OU_A])] });
    expect(read.strategy).toBe('per-target');
    expect(read.calls).toEqual({
      'organizations:ListPolicies': 1,
      'organizations:ListPoliciesForTarget': 3,
      'organizations:DescribePolicy': 2,
    });
    expect(inputsOfCommand('ListPoliciesForTarget').map((i) => [i.TargetId, i.Filter])).toEqual([
      [ROOT, 'SERVICE_CONTROL_POLICY'],
      [OU_A, 'SERVICE_CONTROL_POLICY'],
      ['200000000000', 'SERVICE_CONTROL_POLICY'],
    ]);
    expect(levelsOf(read.accounts.get('200000000000'))).toEqual([
      { kind: 'root', target: ROOT, policies: ['FullAWSAccess'] },
      { kind: 'ou', target: OU_A, policies: ['FullAWSAccess', 'DenyIam'] },
      { kind: 'account', target: '200000000000', policies: ['FullAWSAccess'] },
    ]);
  });

  it('many entities with another SCP: FullAWSAccess is listed instead of asking each', async () => {
    const a = ids('2', 25);
    const denyEc2: TestPolicy = { id: 'p-denyec200001', name: 'DenyEc2', content: FULL, targets: a };
    serve(organization(a, [], [denyEc2]));
    const read = await readGuardrails({ client: client(), accounts: a.map((id) => member(id, [OU_A])) });
    expect(read.strategy).toBe('per-policy');
    // DenyIam 1 page, DenyEc2 2 pages, FullAWSAccess (28 entities) 2 pages; the root asked.
    expect(read.calls).toEqual({
      'organizations:ListPolicies': 1,
      'organizations:ListTargetsForPolicy': 5,
      'organizations:ListPoliciesForTarget': 1,
      'organizations:DescribePolicy': 3,
    });
    expect(levelsOf(read.accounts.get(a[24]!))).toEqual([
      { kind: 'root', target: ROOT, policies: ['FullAWSAccess'] },
      { kind: 'ou', target: OU_A, policies: ['DenyIam', 'FullAWSAccess'] },
      { kind: 'account', target: a[24], policies: ['DenyEc2', 'FullAWSAccess'] },
    ]);
  });

  it('an allow list: an entity without FullAWSAccess is found so, never given it', async () => {
    const a = ids('2', 3);
    const org = organization(a, [], [{ id: 'p-allows300001', name: 'AllowS3', content: FULL, targets: [a[0]!] }]);
    org.policies[0]!.targets = org.policies[0]!.targets.filter((t) => t !== a[0]);
    serve(org);
    const read = await readGuardrails({ client: client(), accounts: a.map((id) => member(id, [OU_A])) });
    expect(read.strategy).toBe('per-policy');
    expect(levelsOf(read.accounts.get(a[0]!)).at(-1)).toEqual({ kind: 'account', target: a[0], policies: ['AllowS3'] });
    expect(levelsOf(read.accounts.get(a[1]!)).at(-1)).toEqual({ kind: 'account', target: a[1], policies: ['FullAWSAccess'] });
  });

  it('pages ListPolicies 20 at a time', async () => {
    const extra: TestPolicy[] = Array.from({ length: 23 }, (_, i) => ({
      id: `p-extra${String(i).padStart(6, '0')}`,
      name: `Extra${i}`,
      content: FULL,
      targets: [],
    }));
    serve(organization(['200000000000'], [], extra));
    const read = await readGuardrails({ client: client(), accounts: [member('200000000000', [OU_A])] });
    expect(read.calls['organizations:ListPolicies']).toBe(2);
    expect(inputsOfCommand('ListPolicies').map((i) => [i.MaxResults, i.NextToken, i.Filter])).toEqual([
      [20, undefined, 'SERVICE_CONTROL_POLICY'],
      [20, '20', 'SERVICE_CONTROL_POLICY'],
    ]);
  });

  it('without Paths, walks up with ListParents: each account and each OU asked once', async () => {
    const b = ids('3', 3);
    serve(organization([], b));
    const read = await readGuardrails({ client: client(), accounts: b.map((id) => member(id, null)) });
    // Three accounts, then OU_B and OU_A once each, however many accounts are below them.
    expect(read.calls['organizations:ListParents']).toBe(3 + 2);
    expect(
      inputsOfCommand('ListParents')
        .map((i) => i.ChildId)
        .sort(),
    ).toEqual([...b, OU_A, OU_B].sort());
    expect(levelsOf(read.accounts.get(b[2]!)).map((l) => l.target)).toEqual([ROOT, OU_A, OU_B, b[2]]);
  });

  it('the management account alone: no call at all; without ARNs it is asked for once', async () => {
    serve(organization(['200000000000'], []));
    const alone = await readGuardrails({ client: client(), accounts: [member(MANAGEMENT, [])] });
    expect(alone.calls).toEqual({});
    expect(alone.accounts.get(MANAGEMENT)).toEqual({ state: 'read', data: [] });
    requests.length = 0;
    const read = await readGuardrails({
      client: client(),
      accounts: [{ id: MANAGEMENT }, { id: '200000000000', paths: [`${ORG}/${ROOT}/${OU_A}/`] }],
    });
    expect(read.calls['organizations:DescribeOrganization']).toBe(1);
    expect(read.accounts.get(MANAGEMENT)).toEqual({ state: 'read', data: [] });
    expect(read.accounts.get('200000000000')?.state).toBe('read');
  });

  it('SCPs not enabled: no level for anyone', async () => {
    serve({ ...organization(['200000000000'], []), enabled: false });
    const read = await readGuardrails({ client: client(), accounts: [member('200000000000', [OU_A])] });
    expect(read.accounts.get('200000000000')).toEqual({ state: 'read', data: [] });
    expect(count('DescribePolicy')).toBe(0);
  });

  it('an entity listed without any SCP while the root has some: the listing is incomplete, never an empty level', async () => {
    const unused: TestPolicy[] = ['x1', 'x2', 'x3'].map((x) => ({ id: `p-${x}000000000`, name: x, content: FULL, targets: [] }));
    const org = organization(['200000000000', '200000000001'], [], unused);
    org.policies[0]!.targets = org.policies[0]!.targets.filter((t) => t !== '200000000001');
    serve(org);
    const read = await readGuardrails({ client: client(), accounts: [member('200000000000', [OU_A]), member('200000000001', [OU_A])] });
    expect(read.accounts.get('200000000001')).toMatchObject({
      state: 'unread',
      code: 'InvalidResponse',
      reason: expect.stringContaining('200000000001 has no service control policy attached'),
    });
    expect(read.accounts.get('200000000000')?.state).toBe('read');
  });

  it('a failed DescribePolicy: that SCP keeps the failure in its document, naming the call', async () => {
    const org = organization(['200000000000'], []);
    org.policies[1]!.content = denied('the policy');
    serve(org);
    const read = await readGuardrails({ client: client(), accounts: [member('200000000000', [OU_A])] });
    const deny = (read.accounts.get('200000000000') as { data: GuardrailLevel[] }).data[1]!.policies[1]!;
    expect(deny.name).toBe('DenyIam');
    expect(deny.document).toEqual({
      ok: false,
      error: "organizations:DescribePolicy failed (AccessDeniedException): You don't have permissions to access the policy.",
    });
  });

  it('a failed ListPoliciesForTarget: the accounts below that entity are unknown, naming the call and entity; the others are read', async () => {
    const unused: TestPolicy[] = ['x1', 'x2', 'x3'].map((x) => ({ id: `p-${x}000000000`, name: x, content: FULL, targets: [] }));
    const org = organization(['200000000000'], ['300000000000'], unused);
    org.failing = { [OU_B]: denied('the OU') };
    serve(org);
    const read = await readGuardrails({
      client: client(),
      accounts: [member('200000000000', [OU_A]), member('300000000000', [OU_A, OU_B])],
    });
    expect(read.strategy).toBe('per-target');
    expect(read.accounts.get('300000000000')).toEqual({
      state: 'unread',
      call: 'organizations:ListPoliciesForTarget',
      reason: `${OU_B}: You don't have permissions to access the OU.`,
      code: 'AccessDeniedException',
      kind: 'denied',
    });
    expect(read.accounts.get('200000000000')?.state).toBe('read');
  });

  it('a failed ListTargetsForPolicy: where that SCP applies is unknown, so every member account is', async () => {
    const a = ids('2', 5);
    const org = organization(a, []);
    org.policies[1]!.targetsError = denied('the policy');
    serve(org);
    const read = await readGuardrails({ client: client(), accounts: [...a.map((id) => member(id, [OU_A])), member(MANAGEMENT, [])] });
    expect(read.strategy).toBe('per-policy');
    for (const id of a)
      expect(read.accounts.get(id)).toMatchObject({
        state: 'unread',
        call: 'organizations:ListTargetsForPolicy',
        reason: "DenyIam (p-denyiam0001): You don't have permissions to access the policy.",
      });
    expect(read.accounts.get(MANAGEMENT)).toEqual({ state: 'read', data: [] });
    expect(count('DescribePolicy')).toBe(0);
  });

  it('a failed ListParents: that account is unknown, naming the call and the entity asked about', async () => {
    serve(organization(['200000000000'], ['300000000000']));
    organizations.on(ListParentsCommand, { ChildId: OU_B }).rejects(denied('the OU'));
    const read = await readGuardrails({ client: client(), accounts: [member('300000000000', null), member('200000000000', [OU_A])] });
    expect(read.accounts.get('300000000000')).toMatchObject({
      state: 'unread',
      call: 'organizations:ListParents',
      reason: `${OU_B}: You don't have permissions to access the OU.`,
    });
    expect(read.accounts.get('200000000000')?.state).toBe('read');
  });
});

function inputsOfCommand(command: string): Record<string, unknown>[] {
  return requests.filter((r) => r.command === command).map((r) => r.input);
}
