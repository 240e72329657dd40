import { AccessDeniedException, ListAccountsCommand, ListChildrenCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuditorError } from '#lib/model/errors.ts';
import {
  discoverAccounts,
  OrganizationCallError,
  OrganizationResponseError,
  roleSessionName,
  type DiscoveryOptions,
  type RoleCredentials,
} from '#lib/organization/accounts.ts';
import { parseOrganizationSettings, type OrganizationSettingsInput } from '#lib/organization/settings.ts';
import {
  account,
  ASSUMED,
  inputsOf,
  manyAccounts,
  organizations,
  resetOrganizations,
  serveOrganization,
  sts,
  type TestOrganization,
} from '#test/mock-organizations.ts';

const MANAGEMENT_ROLE = 'arn:aws:iam::111111111111:role/AccountAuditorOrganizationRead';
const OU_A = 'ou-root-aaaaaaaa';
const OU_B = 'ou-root-bbbbbbbb';
const OU_C = 'ou-root-cccccccc';
const OU_MISSING = 'ou-root-zzzzzzzz';

/**
 *   r-root ── 111111111111 (management)
 *          ├─ OU_A ── 222222222222
 *          │       └─ OU_B ── 333333333333, 444444444444
 *          └─ OU_C ── 555555555555
 */
function tree(): TestOrganization {
  return {
    accounts: ['111111111111', '222222222222', '333333333333', '444444444444', '555555555555'].map((id) => account(id)),
    tree: {
      'r-root': { ous: [OU_A, OU_C], accounts: ['111111111111'] },
      [OU_A]: { ous: [OU_B], accounts: ['222222222222'] },
      [OU_B]: { accounts: ['333333333333', '444444444444'] },
      [OU_C]: { accounts: ['555555555555'] },
    },
  };
}

let madeWith: (RoleCredentials | undefined)[];

function options(settings: OrganizationSettingsInput = {}, extra: Partial<DiscoveryOptions> = {}): DiscoveryOptions {
  return {
    settings: parseOrganizationSettings(settings),
    organizations: (credentials) => {
      madeWith.push(credentials);
      return new OrganizationsClient({ region: 'us-east-1', maxAttempts: 1, ...(credentials ? { credentials } : {}) });
    },
    sts: new STSClient({ region: 'us-east-1', maxAttempts: 1 }),
    ...extra,
  };
}

const ids = (accounts: { id: string }[]) => accounts.map((a) => a.id);

beforeEach(() => {
  resetOrganizations();
  madeWith = [];
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('ListAccounts', () => {
  it('pages through the whole organization 20 at a time: ceil(accounts / 20) calls', async () => {
    serveOrganization({ accounts: manyAccounts(45), tree: {} });
    const discovery = await discoverAccounts(options());
    expect(discovery.accounts).toHaveLength(45);
    expect(discovery.listed).toBe(45);
    expect(inputsOf('ListAccounts').map((i) => i.MaxResults)).toEqual([20, 20, 20]);
    expect(inputsOf('ListAccounts').map((i) => i.NextToken)).toEqual([undefined, '20', '40']);
    expect(discovery.calls).toEqual({ 'organizations:ListAccounts': 3 });
    // No OU setting: no tree walk at all.
    expect(organizations.commandCalls(ListChildrenCommand)).toHaveLength(0);
  });

  it('one call for a small organization, and typed accounts: id, name, email, ous', async () => {
    serveOrganization(tree());
    const discovery = await discoverAccounts(options());
    expect(discovery.calls).toEqual({ 'organizations:ListAccounts': 1 });
    expect(discovery.accounts[0]).toEqual({
      id: '111111111111',
      name: 'account-111111111111',
      email: 'aws+111111111111@example.com',
      ous: [],
    });
  });

  it('keeps only ACTIVE accounts, by State, falling back to Status when a response has no State', async () => {
    serveOrganization({
      accounts: [
        account('200000000001'),
        account('200000000002', { State: 'SUSPENDED', Status: 'SUSPENDED' }),
        account('200000000003', { State: 'PENDING_CLOSURE', Status: 'PENDING_CLOSURE' }),
        account('200000000004', { State: 'CLOSED', Status: 'SUSPENDED' }),
        account('200000000005', { State: 'PENDING_ACTIVATION', Status: undefined }),
        account('200000000006', { State: undefined, Status: 'ACTIVE' }),
        account('200000000007', { State: undefined, Status: 'SUSPENDED' }),
        // State is authoritative when both are given.
        account('200000000008', { State: 'SUSPENDED', Status: 'ACTIVE' }),
        account('200000000009', { State: undefined, Status: undefined }),
      ],
      tree: {},
    });
    const discovery = await discoverAccounts(options());
    expect(ids(discovery.accounts)).toEqual(['200000000001', '200000000006']);
    expect(discovery.listed).toBe(9);
    expect(discovery.active).toBe(2);
  });

  it('an account listed twice (on two pages) is audited once', async () => {
    const accounts = manyAccounts(20);
    serveOrganization({ accounts: [...accounts, accounts[3]!], tree: {} });
    const discovery = await discoverAccounts(options());
    expect(discovery.accounts).toHaveLength(20);
    expect(discovery.listed).toBe(20);
  });

  it('an account without an Id is refused, not skipped', async () => {
    serveOrganization({ accounts: [account('200000000001'), { Name: 'ghost', State: 'ACTIVE' }], tree: {} });
    const error = await discoverAccounts(options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OrganizationResponseError);
    expect(error).toBeInstanceOf(AuditorError);
    expect((error as Error).message).toMatch(/ListAccounts returned an account without an Id.*ghost/);
  });

  it('a name defaults to the ID, an email is left out when Organizations has none', async () => {
    serveOrganization({ accounts: [account('200000000001', { Name: undefined, Email: undefined })], tree: {} });
    const [only] = (await discoverAccounts(options())).accounts;
    expect(only).toEqual({ id: '200000000001', name: '200000000001', ous: [] });
  });
});

describe('include and exclude by account ID', () => {
  it('includeAccounts: only those; an included ID that is not an ACTIVE member is reported missing', async () => {
    const org = tree();
    org.accounts.push(account('666666666666', { State: 'SUSPENDED' }));
    serveOrganization(org);
    const discovery = await discoverAccounts(
      options({ includeAccounts: ['333333333333', '111111111111', '666666666666', '999999999999'] }),
    );
    expect(ids(discovery.accounts)).toEqual(['111111111111', '333333333333']);
    expect(discovery.missing).toEqual(['666666666666', '999999999999']);
    expect(discovery.filteredOut.map((f) => [f.id, f.reason])).toEqual([
      ['222222222222', 'neither in includeAccounts nor under an OU of includeOus'],
      ['444444444444', 'neither in includeAccounts nor under an OU of includeOus'],
      ['555555555555', 'neither in includeAccounts nor under an OU of includeOus'],
    ]);
  });

  it('excludeAccounts wins over includeAccounts', async () => {
    serveOrganization(tree());
    const discovery = await discoverAccounts(
      options({ includeAccounts: ['222222222222', '333333333333'], excludeAccounts: ['333333333333'] }),
    );
    expect(ids(discovery.accounts)).toEqual(['222222222222']);
    expect(discovery.filteredOut.find((f) => f.id === '333333333333')?.reason).toBe('listed in excludeAccounts');
  });

  it('excludeAccounts alone: every other ACTIVE account', async () => {
    serveOrganization(tree());
    const discovery = await discoverAccounts(options({ excludeAccounts: ['111111111111'] }));
    expect(ids(discovery.accounts)).toEqual(['222222222222', '333333333333', '444444444444', '555555555555']);
    expect(organizations.commandCalls(ListChildrenCommand)).toHaveLength(0);
  });
});

describe('include and exclude by OU (walking the named OUs with ListChildren)', () => {
  it('includeOus takes the accounts at any depth below the OU, each with its OU path', async () => {
    serveOrganization(tree());
    const discovery = await discoverAccounts(options({ includeOus: [OU_A] }));
    expect(discovery.accounts).toEqual([
      expect.objectContaining({ id: '222222222222', ous: [OU_A] }),
      expect.objectContaining({ id: '333333333333', ous: [OU_A, OU_B] }),
      expect.objectContaining({ id: '444444444444', ous: [OU_A, OU_B] }),
    ]);
    // OU_A and OU_B: one ListChildren per child type each; never a ListParents per account.
    expect(discovery.calls).toEqual({ 'organizations:ListAccounts': 1, 'organizations:ListChildren': 4 });
    expect(inputsOf('ListChildren').map((i) => `${i.ParentId} ${i.ChildType}`)).toEqual([
      `${OU_A} ORGANIZATIONAL_UNIT`,
      `${OU_A} ACCOUNT`,
      `${OU_B} ORGANIZATIONAL_UNIT`,
      `${OU_B} ACCOUNT`,
    ]);
  });

  it('excludeOus removes a nested OU from an included one, naming it', async () => {
    serveOrganization(tree());
    const discovery = await discoverAccounts(options({ includeOus: [OU_A], excludeOus: [OU_B] }));
    expect(ids(discovery.accounts)).toEqual(['222222222222']);
    expect(discovery.filteredOut.filter((f) => f.reason.includes(OU_B)).map((f) => f.id)).toEqual(['333333333333', '444444444444']);
    expect(discovery.filteredOut.find((f) => f.id === '333333333333')?.reason).toBe(`under ${OU_B} (excludeOus)`);
  });

  it('lists each OU once per run, whichever order nested OUs are named in', async () => {
    serveOrganization(tree());
    const discovery = await discoverAccounts(options({ includeOus: [OU_B, OU_A], excludeOus: [OU_B] }));
    expect(discovery.calls['organizations:ListChildren']).toBe(4);
    const listed = inputsOf('ListChildren').map((i) => `${i.ParentId} ${i.ChildType}`);
    expect(new Set(listed).size).toBe(listed.length);
    expect(ids(discovery.accounts)).toEqual(['222222222222']);
    // OU_B was walked first; walking OU_A afterwards still gives the full path.
    expect(discovery.filteredOut.find((f) => f.id === '333333333333')?.reason).toBe(`under ${OU_B} (excludeOus)`);
  });

  it('excludeOus alone keeps everything else, the management account included', async () => {
    serveOrganization(tree());
    const discovery = await discoverAccounts(options({ excludeOus: [OU_A] }));
    expect(ids(discovery.accounts)).toEqual(['111111111111', '555555555555']);
    expect(discovery.calls['organizations:ListChildren']).toBe(4);
  });

  it('includeAccounts and includeOus add up', async () => {
    serveOrganization(tree());
    const discovery = await discoverAccounts(options({ includeOus: [OU_C], includeAccounts: ['222222222222'] }));
    expect(ids(discovery.accounts)).toEqual(['222222222222', '555555555555']);
  });

  it('pages ListChildren too: an OU of 45 accounts is 3 pages', async () => {
    const accounts = manyAccounts(45);
    serveOrganization({ accounts, tree: { [OU_A]: { accounts: accounts.map((a) => a.Id!) } } });
    const discovery = await discoverAccounts(options({ includeOus: [OU_A] }));
    expect(discovery.accounts).toHaveLength(45);
    expect(discovery.calls).toEqual({ 'organizations:ListAccounts': 3, 'organizations:ListChildren': 4 });
  });
});

describe('credentials: the management role, or the caller as delegated administrator', () => {
  it('with managementRoleArn: one AssumeRole, whose credentials the Organizations client gets', async () => {
    serveOrganization(tree());
    const discovery = await discoverAccounts(options({ managementRoleArn: MANAGEMENT_ROLE }, { sessionName: 'account-auditor-nightly' }));
    const assumed = sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input);
    expect(assumed).toEqual([{ RoleArn: MANAGEMENT_ROLE, RoleSessionName: 'account-auditor-nightly' }]);
    expect(madeWith).toEqual([
      {
        accessKeyId: ASSUMED.AccessKeyId,
        secretAccessKey: ASSUMED.SecretAccessKey,
        sessionToken: ASSUMED.SessionToken,
        expiration: ASSUMED.Expiration,
      },
    ]);
    expect(discovery.calls).toEqual({ 'sts:AssumeRole': 1, 'organizations:ListAccounts': 1 });
  });

  it('without it: no AssumeRole, the client keeps the caller’s own credentials', async () => {
    serveOrganization(tree());
    await discoverAccounts(options());
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(0);
    expect(madeWith).toEqual([undefined]);
  });

  it('session names are what STS accepts', () => {
    expect(roleSessionName('account-auditor-8f2e/run:1')).toBe('account-auditor-8f2e-run-1');
    expect(roleSessionName('x'.repeat(100))).toHaveLength(64);
    expect(roleSessionName('a')).toHaveLength(2);
  });
});

describe('a failed call is named', () => {
  it('ListAccounts denied (not the management account nor a delegated administrator)', async () => {
    organizations
      .on(ListAccountsCommand)
      .rejects(
        new AccessDeniedException({ message: 'You don’t have permissions to access this resource.', $metadata: { httpStatusCode: 400 } }),
      );
    const error = await discoverAccounts(options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OrganizationCallError);
    expect(error).toBeInstanceOf(AuditorError);
    expect(error).toMatchObject({ call: 'organizations:ListAccounts', code: 'AccessDeniedException', exitCode: 2 });
    expect((error as Error).message).toBe(
      'organizations:ListAccounts failed (AccessDeniedException): You don’t have permissions to access this resource.',
    );
  });

  it('ListChildren on an OU that does not exist names the OU', async () => {
    serveOrganization(tree());
    const error = await discoverAccounts(options({ includeOus: [OU_MISSING] })).catch((e: unknown) => e);
    expect(error).toMatchObject({
      call: 'organizations:ListChildren',
      target: `${OU_MISSING} (ORGANIZATIONAL_UNIT)`,
      code: 'ParentNotFoundException',
    });
    expect((error as Error).message).toMatch(
      new RegExp(`^organizations:ListChildren on ${OU_MISSING} \\(ORGANIZATIONAL_UNIT\\) failed \\(ParentNotFoundException\\)`),
    );
  });

  it('the management role refusing AssumeRole names the role; Organizations is never called', async () => {
    serveOrganization(tree());
    sts.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        message: 'not authorized to perform: sts:AssumeRole',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const error = await discoverAccounts(options({ managementRoleArn: MANAGEMENT_ROLE })).catch((e: unknown) => e);
    expect(error).toMatchObject({ call: 'sts:AssumeRole', target: MANAGEMENT_ROLE, code: 'AccessDenied' });
    expect(organizations.calls()).toHaveLength(0);
  });

  it('a page failing midway is counted with the pages before it', async () => {
    serveOrganization({ accounts: manyAccounts(45), tree: {} });
    organizations.on(ListAccountsCommand, { NextToken: '40' }).rejects(new AccessDeniedException({ message: 'denied', $metadata: {} }));
    const error = await discoverAccounts(options()).catch((e: unknown) => e);
    expect(error).toMatchObject({ call: 'organizations:ListAccounts' });
    expect(organizations.commandCalls(ListAccountsCommand)).toHaveLength(3);
  });
});
