/**
 * Least privilege, measured: the audit function role's statements, read from the synthesized
 * template, become the only policy of a moto IAM user; with moto enforcing IAM, the live collector
 * runs on that user's keys. With every statement it is denied nothing and finds what an
 * unenforced run finds; with one read action removed, exactly the checks that need that action end
 * in ERROR and name it. The matrix is also the README's table (E2E_UPDATE_README=1 rewrites it).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateAccessKeyCommand, CreateUserCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditResult } from '#lib/model/run.ts';
import { type CheckId, DEFAULT_CHECK_IDS } from '#lib/checks/catalogue.ts';
import { LIVE_READ_ACTIONS } from '#lib/inventory/registry.ts';
import { PROJECT_ROOT } from '../../infra/bundling.ts';
import { auditLive } from './harness/audit.ts';
import { clients, type Credentials, DUMMY_CREDENTIALS, motoEndpoint } from './harness/aws.ts';
import { ACCOUNT_ID, motoControl, REGION } from './harness/moto.ts';
import { seedAccount } from './harness/seed.ts';
import { onlyResource, roleStatements, template } from './harness/template.ts';

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const AUDITOR = 'audit-function-role';
const README = join(PROJECT_ROOT, 'README.md');
const TABLE_START = '<!-- e2e-permissions:start -->';
const TABLE_END = '<!-- e2e-permissions:end -->';

/**
 * SPEC 2 and 3, for the account seeded here (ElastiCache clusters, no ElastiCache service-linked
 * role, DAX clusters): what each read feeds, and so which checks cannot decide without it.
 * root-access-key also reads the credential report, but the real-time summary decides it; key
 * IDs from ListAccessKeys only name over-age keys, no status depends on them.
 */
const NEEDED_BY: Record<(typeof LIVE_READ_ACTIONS)[number], CheckId[]> = {
  'iam:GetAccountSummary': ['root-access-key'],
  'iam:GenerateCredentialReport': ['access-key-age'],
  'iam:GetCredentialReport': ['access-key-age'],
  'iam:GetAccountAuthorizationDetails': ['user-full-access', 'elasticache-service-linked-role', 'dax-service-role', 'role-full-access'],
  'iam:ListAccessKeys': [],
  'elasticache:DescribeCacheClusters': ['elasticache-service-linked-role'],
  'elasticache:DescribeReplicationGroups': ['elasticache-service-linked-role'],
  'dax:DescribeClusters': ['dax-service-role'],
};

let statements: Statement[];
let auditor: Credentials;
let unenforced: AuditResult;
const c = () => clients();
const moto = () => motoControl(motoEndpoint());

/**
 * moto answers a denied call of a JSON-protocol service (DAX) with an XML body, which the SDK
 * cannot parse: the check is ERROR naming the call, but the code is the SDK's SyntaxError, not
 * AccessDeniedException, so the run cannot list it as a missing permission (test/e2e/README.md).
 */
const DENIAL_UNREADABLE_IN_MOTO = new Set<string>(['dax:DescribeClusters']);

/** Gives the auditor user exactly these statements (its only policy), outside enforcement. */
async function grant(statementsToGrant: Statement[]): Promise<void> {
  await moto().enforceIam(Infinity);
  await c().iam.send(
    new PutUserPolicyCommand({
      UserName: AUDITOR,
      PolicyName: 'AccountAuditor',
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statementsToGrant }),
    }),
  );
  await moto().enforceIam(0);
}

function without(action: string): Statement[] {
  return statements.map((s) => {
    const actions = [s.Action].flat();
    if (!actions.includes(action)) return s;
    return { ...s, Action: actions.filter((a) => a !== action) };
  });
}

const verdicts = (result: AuditResult) => result.findings.map((f) => `${f.checkId} ${f.resource} ${f.status} ${f.severity}`).sort();
const verdictsOf = (result: AuditResult, checks: readonly string[]) =>
  result.findings
    .filter((f) => checks.includes(f.checkId))
    .map((f) => `${f.checkId} ${f.resource} ${f.status} ${f.severity}`)
    .sort();
const errorChecks = (result: AuditResult) => [...new Set(result.findings.filter((f) => f.status === 'ERROR').map((f) => f.checkId))].sort();

interface Row {
  action: string;
  errorChecks: string[];
  codes: string[];
  othersUnchanged: boolean;
  missingPermissions: string[];
}
const rows: Row[] = [];

beforeAll(async () => {
  await moto().reset();
  await moto().enforceIam(Infinity);
  await moto().awsFidelity(true);
  // Without ElastiCache's service-linked role, its check depends on the cluster lists (SPEC 3.4).
  await seedAccount(c(), motoEndpoint(), { elastiCacheServiceLinkedRole: false });

  const tpl = template();
  const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT_ID}:${resource}`;
  const physical = {
    [onlyResource(tpl, 'AWS::DynamoDB::Table').id]: {
      ref: 'account-auditor-findings',
      arn: arn('dynamodb', 'table/account-auditor-findings'),
    },
    [onlyResource(tpl, 'AWS::SNS::Topic').id]: { ref: arn('sns', 'account-auditor-alerts'), arn: arn('sns', 'account-auditor-alerts') },
    [onlyResource(tpl, 'AWS::KMS::Key').id]: {
      ref: '2b3c4d5e-0000-4000-8000-000000000001',
      arn: arn('kms', 'key/2b3c4d5e-0000-4000-8000-000000000001'),
    },
    [onlyResource(tpl, 'AWS::SQS::Queue').id]: { ref: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT_ID}/dlq`, arn: arn('sqs', 'dlq') },
    [onlyResource(tpl, 'AWS::Logs::LogGroup').id]: {
      ref: '/aws/lambda/account-auditor',
      arn: arn('logs', 'log-group:/aws/lambda/account-auditor:*'),
    },
  };
  statements = roleStatements(tpl, physical) as Statement[];

  await c().iam.send(new CreateUserCommand({ UserName: AUDITOR }));
  const key = await c().iam.send(new CreateAccessKeyCommand({ UserName: AUDITOR }));
  auditor = { accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! };
  // The baseline: the same account, read without IAM enforcement.
  unenforced = await auditLive(DUMMY_CREDENTIALS);
});

afterAll(async () => {
  await moto().enforceIam(Infinity);
});

describe('the audit role under moto IAM enforcement', () => {
  it('the role grants exactly the collector read actions on "*" (and nothing else to read with)', () => {
    const read = statements.filter((s) => [s.Action].flat().some((a) => (LIVE_READ_ACTIONS as readonly string[]).includes(a)));
    expect(read).toHaveLength(1);
    expect([read[0]!.Action].flat().sort()).toEqual([...LIVE_READ_ACTIONS].sort());
    expect(read[0]!.Resource).toBe('*');
    expect(Object.keys(NEEDED_BY).sort()).toEqual([...LIVE_READ_ACTIONS].sort());
  });

  it('the baseline, without enforcement, is complete', () => {
    expect(unenforced.run.complete).toBe(true);
    expect(errorChecks(unenforced)).toEqual([]);
    expect(new Set(unenforced.findings.map((f) => f.checkId))).toEqual(new Set(DEFAULT_CHECK_IDS));
    // SPEC 3.4: no service-linked role while clusters exist.
    expect(
      unenforced.findings.filter((f) => f.checkId === 'elasticache-service-linked-role').map((f) => `${f.status} ${f.severity}`),
    ).toEqual(['FAIL high']);
  });

  it('with the role exactly as synthesized: nothing denied, the same verdicts as the unenforced run', async () => {
    await grant(statements);
    const enforced = await auditLive(auditor);
    expect(enforced.run.sources.filter((s) => s.state !== 'read')).toEqual([]);
    expect(enforced.run.missingPermissions).toEqual([]);
    expect(enforced.run.complete).toBe(true);
    expect(verdicts(enforced)).toEqual(verdicts(unenforced));
  });

  it('with no policy at all, enforcement is real: every read is denied', async () => {
    await grant([{ Effect: 'Allow', Action: 'sns:ListTopics', Resource: '*' }]);
    const denied = await auditLive(auditor);
    // Calls that depend on a denied one are not made (GetCredentialReport after Generate; a
    // region's second ElastiCache list is reported only once the first failed).
    expect(denied.run.missingPermissions).toEqual(
      expect.arrayContaining(['iam:GetAccountSummary', 'iam:GenerateCredentialReport', 'iam:GetAccountAuthorizationDetails']),
    );
    expect(errorChecks(denied)).toEqual([...DEFAULT_CHECK_IDS].sort());
    expect(denied.findings.filter((f) => f.status !== 'ERROR')).toEqual([]);
  });

  it.each([...LIVE_READ_ACTIONS])(
    'without %s: exactly the checks that need it are ERROR, naming it; the rest unchanged',
    async (action) => {
      await grant(without(action));
      const result = await auditLive(auditor);
      const inError = errorChecks(result);
      const others = DEFAULT_CHECK_IDS.filter((id) => !inError.includes(id));
      const unread = result.run.sources.filter((s) => s.state === 'unread');
      rows.push({
        action,
        errorChecks: inError,
        codes: [...new Set(unread.map((s) => s.code ?? '?'))],
        othersUnchanged: JSON.stringify(verdictsOf(result, others)) === JSON.stringify(verdictsOf(unenforced, others)),
        missingPermissions: result.run.missingPermissions ?? [],
      });

      expect(inError).toEqual([...NEEDED_BY[action]].sort());
      for (const f of result.findings.filter((x) => x.status === 'ERROR')) expect(JSON.stringify(f), f.resource).toContain(action);
      expect(verdictsOf(result, others)).toEqual(verdictsOf(unenforced, others));
      expect(unread.map((s) => s.call)).toEqual([action]);
      expect(result.run.complete).toBe(false);
      const named = DENIAL_UNREADABLE_IN_MOTO.has(action) ? [] : [action];
      if (DENIAL_UNREADABLE_IN_MOTO.has(action)) expect(unread[0]!.code).toBe('SyntaxError');
      expect(result.run.missingPermissions).toEqual(named);
      for (const c of result.run.checksInError) expect(c.missingPermissions, c.checkId).toEqual(named);
    },
  );

  it("matches the README's permissions table (E2E_UPDATE_README=1 rewrites it)", async () => {
    expect(rows.map((r) => r.action)).toEqual([...LIVE_READ_ACTIONS]);
    const table = [
      TABLE_START,
      '| permission removed from the role | checks in ERROR, naming it | run lists it as missing | error moto returned | every other check |',
      '|---|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| \`${r.action}\` | ${r.errorChecks.length > 0 ? r.errorChecks.map((id) => `\`${id}\``).join(', ') : 'none (over-age keys are reported without their key ID)'} | ${r.missingPermissions.includes(r.action) ? 'yes' : 'no: moto denies in XML to a JSON client'} | ${r.codes.map((code) => `\`${code}\``).join(', ')} | ${r.othersUnchanged ? 'same verdict as with the full role' : '**changed**'} |`,
      ),
      TABLE_END,
    ].join('\n');
    const readme = await readFile(README, 'utf8');
    const start = readme.indexOf(TABLE_START);
    const end = readme.indexOf(TABLE_END);
    if (process.env.E2E_UPDATE_README === '1') {
      if (start < 0 || end < start) throw new Error(`README.md has no ${TABLE_START} … ${TABLE_END} block to rewrite`);
      await writeFile(README, readme.slice(0, start) + table + readme.slice(end + TABLE_END.length));
      return;
    }
    expect(start, `README.md must hold the generated table between ${TABLE_START} and ${TABLE_END}`).toBeGreaterThanOrEqual(0);
    expect(readme.slice(start, end + TABLE_END.length)).toBe(table);
  });
});
