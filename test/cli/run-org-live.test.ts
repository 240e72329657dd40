/**
 * `run --org` live, against AWS faked at the SDK boundary (aws-sdk-client-mock): Organizations
 * lists the accounts, STS answers the caller's identity and, through the credential provider's own
 * client, each member role's AssumeRole; IAM serves the small account. The auditor's own account
 * is audited with its own credentials, a member through its role, and a member whose role cannot
 * be assumed is its one `organization` ERROR while the others' results stand.
 */
import { type Account, ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { AssumeRoleCommand as ProviderAssumeRole, STSClient as ProviderSts } from '@aws-sdk/nested-clients/sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { callerIdentityResponse, FIXTURE_ACCOUNT_ID } from '#test/aws.ts';
import { runCli } from '#test/cli.ts';
import { resetAws, sts } from '#test/mock-aws.ts';
import { serveSmallAccount } from '#test/small-account.ts';

const organizations = mockClient(OrganizationsClient);
/** The STS client fromTemporaryCredentials makes for the member roles (not the one the command line makes). */
const memberSts = mockClient(ProviderSts);

const MANAGEMENT = '111111111111';
const PAYMENTS = '222222222222';
const SANDBOX = '333333333333';
const role = (account: string, name = 'AccountAuditorMemberRole') => `arn:aws:iam::${account}:role/${name}`;
const listed = (id: string, name: string): Account => ({
  Id: id,
  Name: name,
  Arn: `arn:aws:organizations::${MANAGEMENT}:account/o-abcdefghij/${id}`,
  State: 'ACTIVE',
  Paths: ['o-abcdefghij/r-ab12/'],
});

interface OrgJson {
  organizationRunId: string;
  accounts: { account: { id: string }; state: string; findings: { accountId: string; checkId: string; status: string; title: string }[] }[];
}

function notEnabled(): Error {
  return Object.assign(new Error('This operation can be performed only for enabled policy types.'), {
    name: 'PolicyTypeNotEnabledException',
  });
}

beforeEach(() => {
  resetAws('eu-west-1');
  organizations.reset();
  memberSts.reset();
  // The default chain of the caller's own account; no call leaves the process (every client is mocked).
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAAUDITOREXAMPLE01');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'auditor-secret');
  serveSmallAccount('eu-west-1');
  // SCPs are not enabled in this organization: no level applies to any account.
  organizations.onAnyCommand().rejects(notEnabled());
  organizations.on(ListAccountsCommand).resolves({
    Accounts: [listed(FIXTURE_ACCOUNT_ID, 'security-tooling'), listed(PAYMENTS, 'payments-prod'), listed(SANDBOX, 'sandbox')],
  });
  memberSts.on(ProviderAssumeRole, { RoleArn: role(PAYMENTS) }).resolves({
    Credentials: {
      AccessKeyId: 'ASIAPAYMENTSMEMBER01',
      SecretAccessKey: 'member-secret',
      SessionToken: 'member-token',
      Expiration: new Date(Date.now() + 3_600_000),
    },
  });
  memberSts
    .on(ProviderAssumeRole, { RoleArn: role(SANDBOX) })
    .rejects(
      Object.assign(
        new Error(
          `User: arn:aws:iam::${FIXTURE_ACCOUNT_ID}:user/auditor is not authorized to perform: sts:AssumeRole on resource: ${role(SANDBOX)}`,
        ),
        { name: 'AccessDenied' },
      ),
    );
  // Each client asks who it is: the member role's credentials are the member account.
  sts.on(GetCallerIdentityCommand).callsFake(async (_input, getClient) => {
    const credentials = await (getClient() as { config: { credentials: () => Promise<{ accessKeyId: string }> } }).config.credentials();
    return credentials.accessKeyId === 'ASIAPAYMENTSMEMBER01'
      ? { UserId: 'AROA:x', Account: PAYMENTS, Arn: `arn:aws:sts::${PAYMENTS}:assumed-role/AccountAuditorMemberRole/x` }
      : callerIdentityResponse();
  });
});

const run = (...args: string[]) => runCli(['run', '--org', '--no-store', '--checks', 'root-access-key', ...args]);

describe('run --org (live)', () => {
  it('discovers the accounts once; the own account with its own credentials, a member through its role, the role it cannot assume one ERROR', async () => {
    const { code, stdout, stderr } = await run('--format', 'json', '--external-id', 'tooling-7f3a');
    const parsed = JSON.parse(stdout) as OrgJson;
    const byId = new Map(parsed.accounts.map((a) => [a.account.id, a]));
    expect([...byId.keys()]).toEqual([FIXTURE_ACCOUNT_ID, PAYMENTS, SANDBOX]);

    expect(organizations.commandCalls(ListAccountsCommand)).toHaveLength(1);
    // AssumeRole into each member role, never into the caller's own account; the session names the run.
    const assumed = memberSts.commandCalls(ProviderAssumeRole).map((c) => c.args[0].input);
    expect(assumed.map((i) => i.RoleArn).sort()).toEqual([role(PAYMENTS), role(SANDBOX)]);
    for (const input of assumed) {
      expect(input).toMatchObject({
        ExternalId: 'tooling-7f3a',
        RoleSessionName: `account-auditor-${parsed.organizationRunId}`.slice(0, 64),
      });
    }

    const access = (id: string) => byId.get(id)!.findings.filter((f) => f.checkId === 'organization');
    expect(access(FIXTURE_ACCOUNT_ID)).toMatchObject([{ status: 'PASS', title: expect.stringContaining("auditor's own account") }]);
    expect(access(PAYMENTS)).toMatchObject([{ status: 'PASS', title: expect.stringContaining(role(PAYMENTS)) }]);
    expect(byId.get(SANDBOX)!.findings).toMatchObject([
      {
        checkId: 'organization',
        status: 'ERROR',
        title: expect.stringContaining(`sts:AssumeRole into ${role(SANDBOX)} failed (AccessDenied)`),
      },
    ]);
    // The member's findings are its own: collected with its role's credentials.
    expect(byId.get(PAYMENTS)!.findings.every((f) => f.accountId === PAYMENTS)).toBe(true);
    expect(byId.get(PAYMENTS)!.findings.map((f) => f.checkId)).toContain('root-access-key');
    expect(byId.get(PAYMENTS)!.state).toBe('complete');
    expect(byId.get(FIXTURE_ACCOUNT_ID)!.state).toBe('complete');
    expect(byId.get(SANDBOX)!.state).toBe('failed');

    expect(stderr).toMatch(new RegExp(`^\\[\\d/3\\] ${SANDBOX} sandbox: failed: AccessDenied: refused: `, 'm'));
    expect(stderr).toMatch(new RegExp(`^\\[\\d/3\\] ${PAYMENTS} payments-prod: complete, 0 FAIL, 0 new$`, 'm'));
    expect(code).toBe(2);
  });

  it('--accounts narrows the discovery: only that member is assumed and audited, and the exit code follows --fail-on', async () => {
    const { code, stdout } = await run('--accounts', PAYMENTS, '--format', 'json', '--quiet');
    const parsed = JSON.parse(stdout) as OrgJson;
    expect(parsed.accounts.map((a) => a.account.id)).toEqual([PAYMENTS]);
    expect(memberSts.commandCalls(ProviderAssumeRole).map((c) => c.args[0].input.RoleArn)).toEqual([role(PAYMENTS)]);
    expect(code).toBe(0);
  });

  it('--management-role-arn: the accounts are listed with that role’s credentials; --role-name names the member role', async () => {
    const management = `arn:aws:iam::${MANAGEMENT}:role/OrganizationRead`;
    sts.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: 'ASIAMANAGEMENT000001',
        SecretAccessKey: 's',
        SessionToken: 't',
        Expiration: new Date(Date.now() + 3_600_000),
      },
    });
    memberSts.on(ProviderAssumeRole).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    const { code } = await run(
      '--management-role-arn',
      management,
      '--role-name',
      'AuditRead',
      '--exclude-accounts',
      FIXTURE_ACCOUNT_ID,
      '--quiet',
    );
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleArn)).toEqual([management]);
    const credentials = await (organizations.commandCalls(ListAccountsCommand)[0]!.thisValue as OrganizationsClient).config.credentials();
    expect(credentials.accessKeyId).toBe('ASIAMANAGEMENT000001');
    expect(
      memberSts
        .commandCalls(ProviderAssumeRole)
        .map((c) => c.args[0].input.RoleArn)
        .sort(),
    ).toEqual([role(PAYMENTS, 'AuditRead'), role(SANDBOX, 'AuditRead')]);
    expect(code).toBe(2);
  });

  it('a discovery that fails stops the run with the call and why, before any account is audited', async () => {
    organizations
      .on(ListAccountsCommand)
      .rejects(Object.assign(new Error('You don’t have permissions'), { name: 'AccessDeniedException' }));
    const { code, stdout, stderr } = await run();
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('organizations:ListAccounts failed (AccessDeniedException)');
    expect(memberSts.commandCalls(ProviderAssumeRole)).toHaveLength(0);
  });
});
