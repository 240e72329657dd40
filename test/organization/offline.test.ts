/**
 * The organization export reader (lib/organization/offline.ts): each rule's smallest passing and
 * failing case, on folders written to a temporary directory as the AWS CLI writes them.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GuardrailLevel, Source } from '#lib/inventory/types.ts';
import {
  AccountExportMismatchError,
  loadAccountExport,
  loadOrganizationExport,
  ORGANIZATION_FILES,
  OrganizationExportError,
  selectExportAccounts,
} from '#lib/organization/offline.ts';
import { runCli } from '#test/cli.ts';

const ORG = 'o-abcdefghij';
const MANAGEMENT = '111111111111';
const MEMBER = '222222222222';
const ROOT = 'r-ab12';
const OU = 'ou-ab12-aaaaaaaa';
const FULL_ID = 'p-FullAWSAccess';
const DENY_ID = 'p-denyiam001';

const arn = (id: string) => `arn:aws:organizations::${MANAGEMENT}:account/${ORG}/${id}`;
const account = (id: string, state = 'ACTIVE') => ({
  Id: id,
  Arn: arn(id),
  Email: `${id}@example.com`,
  Name: `account ${id}`,
  State: state,
});
const summary = (id: string, name: string, awsManaged: boolean) => ({
  Id: id,
  Arn: `arn:aws:organizations::aws:policy/service_control_policy/${id}`,
  Name: name,
  Type: 'SERVICE_CONTROL_POLICY',
  AwsManaged: awsManaged,
});
const FULL = summary(FULL_ID, 'FullAWSAccess', true);
const DENY = summary(DENY_ID, 'DenyIam', false);
const content = (statement: unknown) => JSON.stringify({ Version: '2012-10-17', Statement: [statement] });

/** The smallest complete export: the management account and one member directly under the root. */
function minimal(): Record<string, unknown> {
  return {
    'organization/describe-organization.json': { Organization: { Id: ORG, MasterAccountId: MANAGEMENT, FeatureSet: 'ALL' } },
    'organization/list-accounts.json': { Accounts: [account(MANAGEMENT), account(MEMBER)] },
    'organization/list-roots.json': {
      Roots: [{ Id: ROOT, Name: 'Root', PolicyTypes: [{ Type: 'SERVICE_CONTROL_POLICY', Status: 'ENABLED' }] }],
    },
    [`organization/list-parents/${MANAGEMENT}.json`]: { Parents: [{ Id: ROOT, Type: 'ROOT' }] },
    [`organization/list-parents/${MEMBER}.json`]: { Parents: [{ Id: ROOT, Type: 'ROOT' }] },
    [`organization/list-policies-for-target/${ROOT}.json`]: { Policies: [FULL] },
    [`organization/list-policies-for-target/${MEMBER}.json`]: { Policies: [FULL] },
    [`organization/describe-policy/${FULL_ID}.json`]: {
      Policy: { PolicySummary: FULL, Content: content({ Effect: 'Allow', Action: '*', Resource: '*' }) },
    },
    [`accounts/${MANAGEMENT}/caller-identity.json`]: { UserId: 'AIDA', Account: MANAGEMENT, Arn: `arn:aws:iam::${MANAGEMENT}:user/a` },
    [`accounts/${MEMBER}/caller-identity.json`]: { UserId: 'AIDA', Account: MEMBER, Arn: `arn:aws:iam::${MEMBER}:user/a` },
  };
}

/** The member under one OU, which holds the default SCP and a Deny of iam:*. */
function withOu(): Record<string, unknown> {
  return {
    ...minimal(),
    [`organization/list-parents/${MEMBER}.json`]: { Parents: [{ Id: OU, Type: 'ORGANIZATIONAL_UNIT' }] },
    [`organization/list-parents/${OU}.json`]: { Parents: [{ Id: ROOT, Type: 'ROOT' }] },
    [`organization/list-policies-for-target/${OU}.json`]: { Policies: [FULL, DENY] },
    [`organization/describe-policy/${DENY_ID}.json`]: {
      Policy: { PolicySummary: DENY, Content: content({ Effect: 'Deny', Action: 'iam:*', Resource: '*' }) },
    },
  };
}

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'org-offline-'));
  dirs.push(dir);
  return dir;
}

/** Writes the files (objects as JSON, strings verbatim; undefined: left out) into a fresh folder. */
async function folder(files: Record<string, unknown>): Promise<string> {
  const dir = await tempDir();
  for (const [name, value] of Object.entries(files)) {
    if (value === undefined) continue;
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), typeof value === 'string' ? value : `${JSON.stringify(value, null, 4)}\n`);
  }
  return dir;
}

function levels(source: Source<GuardrailLevel[]> | undefined): string[] {
  if (source?.state !== 'read') throw new Error(`expected read guardrails, got ${JSON.stringify(source)}`);
  return source.data.map((l) => `${l.kind} ${l.target}: ${l.policies.map((p) => p.name).join(', ')}`);
}

function unread(source: Source<unknown> | undefined): { call: string; reason: string } {
  if (source?.state !== 'unread') throw new Error(`expected unread, got ${JSON.stringify(source)}`);
  return source;
}

describe('loadOrganizationExport: the organization files', () => {
  it('reads the smallest export: the organization, ACTIVE accounts, their chains and SCP levels', async () => {
    const dir = await folder(minimal());
    const loaded = await loadOrganizationExport(dir);
    expect(loaded.organization).toEqual({ id: ORG, managementAccountId: MANAGEMENT });
    expect(loaded.accounts).toEqual([
      { id: MANAGEMENT, name: `account ${MANAGEMENT}`, email: `${MANAGEMENT}@example.com`, ous: [] },
      { id: MEMBER, name: `account ${MEMBER}`, email: `${MEMBER}@example.com`, ous: [] },
    ]);
    // The management account is subject to no SCP.
    expect(loaded.guardrails.get(MANAGEMENT)).toEqual({ state: 'read', data: [] });
    const member = loaded.guardrails.get(MEMBER);
    expect(levels(member)).toEqual([`root ${ROOT}: FullAWSAccess`, `account ${MEMBER}: FullAWSAccess`]);
    expect(member).toMatchObject({
      data: [{ policies: [{ id: FULL_ID, arn: FULL.Arn, awsManaged: true, target: ROOT, document: { ok: true } }] }, {}],
    });
    expect(loaded.chains.get(MEMBER)).toEqual({ state: 'read', data: [ROOT] });
    expect(loaded.accountDirs.get(MEMBER)).toEqual({ dir: path.join(dir, 'accounts', MEMBER) });
    expect(loaded.ignored).toEqual([]);
  });

  it('a folder that does not exist, or a file in its place, stops the import naming the layout', async () => {
    const dir = await tempDir();
    await expect(loadOrganizationExport(path.join(dir, 'nope'))).rejects.toThrow(/nope: no such folder; expected an organization export/);
    await writeFile(path.join(dir, 'file'), '{}');
    await expect(loadOrganizationExport(path.join(dir, 'file'))).rejects.toThrow(/file: not a folder/);
  });

  it('describe-organization.json missing, not JSON or of another shape stops the import, naming the file', async () => {
    await expect(
      loadOrganizationExport(await folder({ ...minimal(), 'organization/describe-organization.json': undefined })),
    ).rejects.toThrow(
      'organization/describe-organization.json: file not found (export it with: aws organizations describe-organization > organization/describe-organization.json)',
    );
    await expect(
      loadOrganizationExport(await folder({ ...minimal(), 'organization/describe-organization.json': '{"Organization": {\n' })),
    ).rejects.toThrow(/organization\/describe-organization.json: not valid JSON at line 2/);
    const error = await loadOrganizationExport(
      await folder({ ...minimal(), 'organization/describe-organization.json': { Organization: { Id: ORG } } }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OrganizationExportError);
    expect((error as Error).message).toMatch(
      /describe-organization.json: Organization.MasterAccountId: .*aws organizations describe-organization/,
    );
  });

  it('list-accounts.json missing or cut by --max-items stops the import', async () => {
    await expect(loadOrganizationExport(await folder({ ...minimal(), 'organization/list-accounts.json': undefined }))).rejects.toThrow(
      /list-accounts.json: file not found \(export it with: aws organizations list-accounts/,
    );
    await expect(
      loadOrganizationExport(
        await folder({ ...minimal(), 'organization/list-accounts.json': { Accounts: [account(MEMBER)], NextToken: 'x' } }),
      ),
    ).rejects.toThrow(/list-accounts.json: has a NextToken: the listing is incomplete/);
  });

  it('list-accounts.json without the management account stops the import: ListAccounts always lists it', async () => {
    await expect(
      loadOrganizationExport(await folder({ ...minimal(), 'organization/list-accounts.json': { Accounts: [account(MEMBER)] } })),
    ).rejects.toThrow(
      `list-accounts.json: the management account ${MANAGEMENT} of organization/describe-organization.json is not listed: the listing is incomplete or of another organization`,
    );
  });

  it('an account listed twice: the same entry is merged, a different one stops the import naming both', async () => {
    const same = await loadOrganizationExport(
      await folder({
        ...minimal(),
        'organization/list-accounts.json': { Accounts: [account(MANAGEMENT), account(MEMBER), account(MEMBER)] },
      }),
    );
    expect(same.accounts.map((a) => a.id)).toEqual([MANAGEMENT, MEMBER]);
    await expect(
      loadOrganizationExport(
        await folder({
          ...minimal(),
          'organization/list-accounts.json': { Accounts: [account(MANAGEMENT), account(MEMBER), { ...account(MEMBER), Name: 'other' }] },
        }),
      ),
    ).rejects.toThrow(`Accounts.2 (${MEMBER}) and Accounts.1 list the same account differently`);
  });

  it('an entry without State or Status, or whose Arn names another organization, stops the import', async () => {
    const { State: _state, ...stateless } = account(MEMBER);
    await expect(
      loadOrganizationExport(
        await folder({ ...minimal(), 'organization/list-accounts.json': { Accounts: [account(MANAGEMENT), stateless] } }),
      ),
    ).rejects.toThrow(`Accounts.1 (${MEMBER}) has neither State nor Status`);
    // The older Status alone is enough.
    const older = await loadOrganizationExport(
      await folder({
        ...minimal(),
        'organization/list-accounts.json': { Accounts: [account(MANAGEMENT), { ...stateless, Status: 'ACTIVE' }] },
      }),
    );
    expect(older.accounts.map((a) => a.id)).toEqual([MANAGEMENT, MEMBER]);
    await expect(
      loadOrganizationExport(
        await folder({
          ...minimal(),
          'organization/list-accounts.json': {
            Accounts: [account(MANAGEMENT), { ...account(MEMBER), Arn: arn(MEMBER).replace(ORG, 'o-zzzzzzzzzz') }],
          },
        }),
      ),
    ).rejects.toThrow(/contradicts the account ID or organization\/describe-organization.json/);
  });

  it('only ACTIVE accounts are audited; an accounts/ entry of no ACTIVE account is reported as ignored', async () => {
    const dir = await folder({
      ...minimal(),
      'organization/list-accounts.json': { Accounts: [account(MANAGEMENT), account(MEMBER), account('333333333333', 'SUSPENDED')] },
      'accounts/333333333333/caller-identity.json': {},
      'accounts/444444444444/caller-identity.json': {},
      'accounts/notes.txt': 'x',
    });
    const loaded = await loadOrganizationExport(dir);
    expect(loaded.accounts.map((a) => a.id)).toEqual([MANAGEMENT, MEMBER]);
    expect([...loaded.accountDirs.keys()]).toEqual([MANAGEMENT, MEMBER]);
    expect(loaded.guardrails.has('333333333333')).toBe(false);
    expect(loaded.ignored).toEqual([
      {
        entry: 'accounts/333333333333',
        reason: 'the account is SUSPENDED in organization/list-accounts.json: only ACTIVE accounts are audited',
      },
      { entry: 'accounts/444444444444', reason: 'not an account of organization/list-accounts.json' },
      { entry: 'accounts/notes.txt', reason: 'not an account ID' },
    ]);
  });
});

describe('loadOrganizationExport: the chains root → OUs → account', () => {
  it('walks list-parents up through an OU to the root', async () => {
    const loaded = await loadOrganizationExport(await folder(withOu()));
    expect(loaded.accounts.find((a) => a.id === MEMBER)?.ous).toEqual([OU]);
    expect(loaded.chains.get(MEMBER)).toEqual({ state: 'read', data: [ROOT, OU] });
    expect(levels(loaded.guardrails.get(MEMBER))).toEqual([
      `root ${ROOT}: FullAWSAccess`,
      `ou ${OU}: FullAWSAccess, DenyIam`,
      `account ${MEMBER}: FullAWSAccess`,
    ]);
  });

  it("a missing list-parents file leaves the chain and the account's guardrails unread, naming the file", async () => {
    const loaded = await loadOrganizationExport(await folder({ ...withOu(), [`organization/list-parents/${OU}.json`]: undefined }));
    const chain = unread(loaded.chains.get(MEMBER));
    expect(chain.call).toBe(`organization/list-parents/${OU}.json`);
    expect(chain.reason).toContain(`aws organizations list-parents --child-id ${OU}`);
    expect(unread(loaded.guardrails.get(MEMBER))).toEqual(chain);
    expect(loaded.accounts.find((a) => a.id === MEMBER)?.ous).toEqual([]);
    // The management account needs no chain for its (absent) SCPs.
    expect(loaded.guardrails.get(MANAGEMENT)).toEqual({ state: 'read', data: [] });
  });

  it('a parent list of other than one parent, or of a malformed ID, is unread', async () => {
    const two = await loadOrganizationExport(await folder({ ...minimal(), [`organization/list-parents/${MEMBER}.json`]: { Parents: [] } }));
    expect(unread(two.guardrails.get(MEMBER)).reason).toBe(`organization/list-parents/${MEMBER}.json: expected one parent, got 0`);
    const bad = await loadOrganizationExport(
      await folder({
        ...minimal(),
        [`organization/list-parents/${MEMBER}.json`]: { Parents: [{ Id: '../x', Type: 'ORGANIZATIONAL_UNIT' }] },
      }),
    );
    expect(unread(bad.guardrails.get(MEMBER)).reason).toMatch(/Parents.0: \.\.\/x is not the ID of a ORGANIZATIONAL_UNIT/);
  });

  it('parents that form a loop, or reach another root than list-roots names, are unread', async () => {
    const loop = await loadOrganizationExport(
      await folder({ ...withOu(), [`organization/list-parents/${OU}.json`]: { Parents: [{ Id: OU, Type: 'ORGANIZATIONAL_UNIT' }] } }),
    );
    expect(unread(loop.guardrails.get(MEMBER)).reason).toMatch(/no root within 8 levels \(the parents form a loop\)/);
    const other = await loadOrganizationExport(
      await folder({ ...minimal(), [`organization/list-parents/${MEMBER}.json`]: { Parents: [{ Id: 'r-zz99', Type: 'ROOT' }] } }),
    );
    expect(unread(other.guardrails.get(MEMBER)).reason).toBe(
      `organization/list-parents/${MEMBER}.json: ${MEMBER}: the chain ends at root r-zz99, but organization/list-roots.json names ${ROOT}`,
    );
  });

  it("list-accounts' Paths give the chain without list-parents; Paths that disagree are unread", async () => {
    const paths = (p: string[]) => ({
      ...withOu(),
      [`organization/list-parents/${MEMBER}.json`]: undefined,
      [`organization/list-parents/${OU}.json`]: undefined,
      'organization/list-accounts.json': { Accounts: [account(MANAGEMENT), { ...account(MEMBER), Paths: p }] },
    });
    const loaded = await loadOrganizationExport(await folder(paths([`${ORG}/${ROOT}/${OU}/${MEMBER}/`])));
    expect(loaded.chains.get(MEMBER)).toEqual({ state: 'read', data: [ROOT, OU] });
    const two = await loadOrganizationExport(await folder(paths([`${ORG}/${ROOT}/${OU}/`, `${ORG}/${ROOT}/`])));
    expect(unread(two.guardrails.get(MEMBER)).reason).toMatch(/list-accounts.json: 222222222222: Paths .* do not name one chain/);
  });
});

describe('loadOrganizationExport: the SCP levels', () => {
  it('list-roots.json missing: every member account is unread, naming it', async () => {
    const loaded = await loadOrganizationExport(await folder({ ...minimal(), 'organization/list-roots.json': undefined }));
    expect(unread(loaded.guardrails.get(MEMBER))).toMatchObject({
      call: 'organization/list-roots.json',
      reason: expect.stringContaining('aws organizations list-roots'),
    });
    expect(loaded.guardrails.get(MANAGEMENT)).toEqual({ state: 'read', data: [] });
  });

  it('SCPs not enabled at the root: no SCP applies, and no SCP file is needed', async () => {
    const files = minimal();
    for (const name of Object.keys(files)) if (/list-policies-for-target|describe-policy/.test(name)) delete files[name];
    files['organization/list-roots.json'] = { Roots: [{ Id: ROOT, PolicyTypes: [] }] };
    const loaded = await loadOrganizationExport(await folder(files));
    expect(loaded.guardrails.get(MEMBER)).toEqual({ state: 'read', data: [] });
  });

  it('SCPs being enabled, or two roots, are unread', async () => {
    const pending = await loadOrganizationExport(
      await folder({
        ...minimal(),
        'organization/list-roots.json': {
          Roots: [{ Id: ROOT, PolicyTypes: [{ Type: 'SERVICE_CONTROL_POLICY', Status: 'PENDING_ENABLE' }] }],
        },
      }),
    );
    expect(unread(pending.guardrails.get(MEMBER)).reason).toMatch(/SERVICE_CONTROL_POLICY is PENDING_ENABLE at root r-ab12/);
    const two = await loadOrganizationExport(
      await folder({
        ...minimal(),
        'organization/list-roots.json': {
          Roots: [
            { Id: ROOT, PolicyTypes: [] },
            { Id: 'r-cd34', PolicyTypes: [] },
          ],
        },
      }),
    );
    expect(unread(two.guardrails.get(MEMBER)).reason).toBe('organization/list-roots.json: an organization has one root; the file lists 2');
  });

  it('a missing list-policies-for-target file at a level is unread, naming the file and its --filter', async () => {
    const loaded = await loadOrganizationExport(
      await folder({ ...withOu(), [`organization/list-policies-for-target/${OU}.json`]: undefined }),
    );
    expect(unread(loaded.guardrails.get(MEMBER))).toMatchObject({
      call: `organization/list-policies-for-target/${OU}.json`,
      reason: expect.stringContaining(`list-policies-for-target --target-id ${OU} --filter SERVICE_CONTROL_POLICY`),
    });
  });

  it('a level with no SCP, or a listing of another policy type, is unread', async () => {
    const empty = await loadOrganizationExport(
      await folder({ ...minimal(), [`organization/list-policies-for-target/${MEMBER}.json`]: { Policies: [] } }),
    );
    expect(unread(empty.guardrails.get(MEMBER)).reason).toMatch(
      /no service control policy is attached to 222222222222.*the export is incomplete/,
    );
    const tags = await loadOrganizationExport(
      await folder({
        ...minimal(),
        [`organization/list-policies-for-target/${MEMBER}.json`]: { Policies: [{ ...FULL, Type: 'TAG_POLICY' }] },
      }),
    );
    expect(unread(tags.guardrails.get(MEMBER)).reason).toMatch(/Policies.0.Type: must be SERVICE_CONTROL_POLICY: export with --filter/);
  });

  it('a policy listed twice: the same summary is merged, a different one is unread naming both', async () => {
    const same = await loadOrganizationExport(
      await folder({ ...minimal(), [`organization/list-policies-for-target/${MEMBER}.json`]: { Policies: [FULL, FULL] } }),
    );
    expect(levels(same.guardrails.get(MEMBER))).toEqual([`root ${ROOT}: FullAWSAccess`, `account ${MEMBER}: FullAWSAccess`]);
    const differ = await loadOrganizationExport(
      await folder({
        ...minimal(),
        [`organization/list-policies-for-target/${MEMBER}.json`]: { Policies: [FULL, { ...FULL, Name: 'x' }] },
      }),
    );
    expect(unread(differ.guardrails.get(MEMBER)).reason).toMatch(/Policies.1 and Policies.0 list p-FullAWSAccess differently/);
  });

  it('a missing describe-policy of an attached SCP makes the guardrails unread, never "no SCP"', async () => {
    const loaded = await loadOrganizationExport(await folder({ ...withOu(), [`organization/describe-policy/${DENY_ID}.json`]: undefined }));
    expect(unread(loaded.guardrails.get(MEMBER))).toMatchObject({
      call: `organization/describe-policy/${DENY_ID}.json`,
      reason: expect.stringContaining(`aws organizations describe-policy --policy-id ${DENY_ID}`),
    });
  });

  it('a description of another policy is unread; Content that is not JSON keeps the SCP, unreadable', async () => {
    const other = await loadOrganizationExport(
      await folder({
        ...withOu(),
        [`organization/describe-policy/${DENY_ID}.json`]: { Policy: { PolicySummary: FULL, Content: content({}) } },
      }),
    );
    expect(unread(other.guardrails.get(MEMBER)).reason).toMatch(
      /PolicySummary.Id is p-FullAWSAccess: this is the description of another policy/,
    );
    const broken = await loadOrganizationExport(
      await folder({
        ...withOu(),
        [`organization/describe-policy/${DENY_ID}.json`]: { Policy: { PolicySummary: DENY, Content: '{"Version"' } },
      }),
    );
    const guardrails = broken.guardrails.get(MEMBER);
    expect(guardrails?.state).toBe('read');
    const deny = guardrails?.state === 'read' ? guardrails.data[1]!.policies[1]! : null;
    expect(deny?.document).toEqual({
      ok: false,
      error: expect.stringMatching(/describe-policy\/p-denyiam001.json: Policy.Content is not JSON/),
    });
  });
});

describe('loadOrganizationExport: the account folders', () => {
  it('an ACTIVE account without a folder is missing, naming both ways to export it', async () => {
    const loaded = await loadOrganizationExport(await folder({ ...minimal(), [`accounts/${MEMBER}/caller-identity.json`]: undefined }));
    expect(loaded.accountDirs.get(MEMBER)).toEqual({
      missing: expect.stringMatching(
        /^no folder accounts\/222222222222\/ in the export: .*assume-role-error.json when aws sts assume-role fails$/,
      ),
    });
    expect(loaded.accountDirs.get(MANAGEMENT)).toHaveProperty('dir');
  });

  it('no accounts/ folder at all: every account is missing', async () => {
    const files = minimal();
    for (const name of Object.keys(files)) if (name.startsWith('accounts/')) delete files[name];
    const loaded = await loadOrganizationExport(await folder(files));
    expect([...loaded.accountDirs.values()]).toEqual([
      { missing: 'no accounts/ folder in the export: no export of the account' },
      { missing: 'no accounts/ folder in the export: no export of the account' },
    ]);
  });

  it('assume-role-error.json is the failed AssumeRole of that account', async () => {
    const dir = await folder({
      ...minimal(),
      [`accounts/${MEMBER}/caller-identity.json`]: undefined,
      [`accounts/${MEMBER}/assume-role-error.json`]: { Code: 'AccessDenied', Message: 'not authorized to perform: sts:AssumeRole' },
    });
    const loaded = await loadOrganizationExport(dir);
    expect(loaded.accountDirs.get(MEMBER)).toEqual({
      assumeRoleError: { code: 'AccessDenied', message: 'not authorized to perform: sts:AssumeRole' },
    });
  });

  it('a malformed assume-role-error.json, or one beside an export, is missing, naming why', async () => {
    const extra = await loadOrganizationExport(
      await folder({ ...minimal(), [`accounts/${MEMBER}/assume-role-error.json`]: { Code: 'AccessDenied', Message: 'm', Role: 'x' } }),
    );
    expect(extra.accountDirs.get(MEMBER)).toEqual({
      missing: expect.stringMatching(/holds both assume-role-error.json and an export \(caller-identity.json\)/),
    });
    const shape = await loadOrganizationExport(
      await folder({
        ...minimal(),
        [`accounts/${MEMBER}/caller-identity.json`]: undefined,
        [`accounts/${MEMBER}/assume-role-error.json`]: { Code: '' },
      }),
    );
    expect(shape.accountDirs.get(MEMBER)).toEqual({
      missing: expect.stringMatching(/^accounts\/222222222222\/assume-role-error.json: Code: /),
    });
    const json = await loadOrganizationExport(
      await folder({
        ...minimal(),
        [`accounts/${MEMBER}/caller-identity.json`]: undefined,
        [`accounts/${MEMBER}/assume-role-error.json`]: '',
      }),
    );
    expect(json.accountDirs.get(MEMBER)).toEqual({ missing: expect.stringMatching(/assume-role-error.json: the file is empty/) });
  });

  it('an empty account folder, or a file in its place, is missing', async () => {
    const dir = await folder({ ...minimal(), [`accounts/${MEMBER}/caller-identity.json`]: undefined });
    await mkdir(path.join(dir, 'accounts', MEMBER));
    expect((await loadOrganizationExport(dir)).accountDirs.get(MEMBER)).toEqual({
      missing: "accounts/222222222222/ is empty: the account's export is missing",
    });
    await rm(path.join(dir, 'accounts', MEMBER), { recursive: true });
    await writeFile(path.join(dir, 'accounts', MEMBER), '');
    expect((await loadOrganizationExport(dir)).accountDirs.get(MEMBER)).toEqual({
      missing: "accounts/222222222222 is a file, not a folder of the account's export",
    });
  });
});

describe('loadOrganizationExport: symbolic links', () => {
  it('files and folders reached through links are read like any other', async () => {
    const elsewhere = await folder({
      'parents.json': { Parents: [{ Id: ROOT, Type: 'ROOT' }] },
      'member/caller-identity.json': { UserId: 'AIDA', Account: MEMBER, Arn: `arn:aws:iam::${MEMBER}:user/a` },
    });
    const dir = await folder({
      ...minimal(),
      [`organization/list-parents/${MEMBER}.json`]: undefined,
      [`accounts/${MEMBER}/caller-identity.json`]: undefined,
    });
    await symlink(path.join(elsewhere, 'parents.json'), path.join(dir, 'organization/list-parents', `${MEMBER}.json`));
    await symlink(path.join(elsewhere, 'member'), path.join(dir, 'accounts', MEMBER));
    const loaded = await loadOrganizationExport(dir);
    expect(loaded.chains.get(MEMBER)).toEqual({ state: 'read', data: [ROOT] });
    expect(loaded.accountDirs.get(MEMBER)).toEqual({ dir: path.join(dir, 'accounts', MEMBER) });
  });

  it('a broken link is named, never skipped', async () => {
    const dir = await folder({
      ...minimal(),
      [`organization/list-parents/${MEMBER}.json`]: undefined,
      [`accounts/${MEMBER}/caller-identity.json`]: undefined,
    });
    await symlink(path.join(dir, 'gone.json'), path.join(dir, 'organization/list-parents', `${MEMBER}.json`));
    await symlink(path.join(dir, 'gone'), path.join(dir, 'accounts', MEMBER));
    const loaded = await loadOrganizationExport(dir);
    expect(unread(loaded.guardrails.get(MEMBER)).reason).toMatch(
      /list-parents\/222222222222.json: is a symbolic link to .*gone.json, which does not exist/,
    );
    expect(loaded.accountDirs.get(MEMBER)).toEqual({
      missing: expect.stringMatching(/^accounts\/222222222222 is a symbolic link to .*gone, which does not exist$/),
    });
  });
});

describe('selectExportAccounts', () => {
  const none = { includeAccounts: [], excludeAccounts: [], includeOus: [], excludeOus: [] };

  it('without include or exclude settings, every ACTIVE account is audited', async () => {
    const loaded = await loadOrganizationExport(await folder(withOu()));
    expect(selectExportAccounts(loaded, none)).toMatchObject({
      accounts: [{ id: MANAGEMENT }, { id: MEMBER }],
      filteredOut: [],
      undecided: [],
    });
  });

  it('includeOus and excludeOus apply to the whole chain; includeAccounts not listed are missing', async () => {
    const loaded = await loadOrganizationExport(await folder(withOu()));
    const included = selectExportAccounts(loaded, { ...none, includeOus: [OU], includeAccounts: ['999999999999'] });
    expect(included.accounts.map((a) => a.id)).toEqual([MEMBER]);
    expect(included.filteredOut).toEqual([
      { id: MANAGEMENT, name: `account ${MANAGEMENT}`, reason: 'neither in includeAccounts nor under an OU of includeOus' },
    ]);
    expect(included.missing).toEqual(['999999999999']);
    const excluded = selectExportAccounts(loaded, { ...none, excludeOus: [OU] });
    expect(excluded.accounts.map((a) => a.id)).toEqual([MANAGEMENT]);
    expect(excluded.filteredOut).toEqual([{ id: MEMBER, name: `account ${MEMBER}`, reason: `under ${OU} (excludeOus)` }]);
  });

  it('an account whose OUs are unknown is undecided under OU settings, never dropped or audited against them', async () => {
    const loaded = await loadOrganizationExport(await folder({ ...withOu(), [`organization/list-parents/${OU}.json`]: undefined }));
    const selection = selectExportAccounts(loaded, { ...none, excludeOus: [OU] });
    expect(selection.accounts.map((a) => a.id)).toEqual([MANAGEMENT]);
    expect(selection.undecided).toEqual([
      {
        id: MEMBER,
        name: `account ${MEMBER}`,
        reason: expect.stringMatching(/^its OUs are unknown, so the OU settings cannot be applied: .*list-parents\/ou-ab12-aaaaaaaa.json/),
      },
    ]);
    // Excluded by ID: the OUs do not matter.
    expect(selectExportAccounts(loaded, { ...none, excludeOus: [OU], excludeAccounts: [MEMBER] }).undecided).toEqual([]);
  });
});

describe('loadAccountExport', () => {
  it("loads the folder's export, and refuses one whose files are another account's", async () => {
    const dir = await folder({
      'caller-identity.json': { UserId: 'AIDA', Account: MEMBER, Arn: `arn:aws:iam::${MEMBER}:user/a` },
      'account-summary.json': { SummaryMap: { AccountAccessKeysPresent: 0, AccountMFAEnabled: 1 } },
    });
    expect((await loadAccountExport(dir, MEMBER)).accountId).toBe(MEMBER);
    await expect(loadAccountExport(dir, '333333333333')).rejects.toThrow(AccountExportMismatchError);
    await expect(loadAccountExport(dir, '333333333333')).rejects.toThrow(
      'the folder is for account 333333333333, but its files are from account 222222222222',
    );
  });
});

describe('the layout', () => {
  it('the README documents every file of the organization export', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    for (const f of ORGANIZATION_FILES) {
      expect(readme, f.file).toContain(`\`${f.file}\``);
      if (f.command.startsWith('aws ')) expect(readme, f.command).toContain(`\`${f.command}\``);
    }
  });

  it('account-auditor files --org lists every file with its command; files alone, the single-account export', async () => {
    const org = await runCli(['files', '--org']);
    expect(org.code).toBe(0);
    for (const f of ORGANIZATION_FILES) expect(org.stdout).toContain(`${f.file}\n    ${f.command}\n`);
    expect(org.stdout).toContain('aws organizations list-policies-for-target --target-id <target-id> --filter SERVICE_CONTROL_POLICY');
    const single = await runCli(['files']);
    expect(single.stdout).not.toContain('aws organizations');
    expect(single.stdout).toContain('aws iam get-account-authorization-details');
  });
});
