/**
 * `run --org` offline, on the bundled demo organization (examples/demo-organization: the
 * management account, two audited members, a sandbox whose member role is missing): one row and
 * one run per account, the sandbox's `organization` ERROR, the exit code, the formats, the
 * filters, the flags' validation, progress on stderr, the state and the organization run record.
 */
import { execFile, spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEMO_ORGANIZATION_DIR } from '#lib/cli/main.ts';
import { buildAlert } from '#lib/notify/alert.ts';
import { type DigestSummary, sectionFromAlert } from '#lib/notify/digest.ts';
import { DEFAULT_MAX_CONCURRENCY, DEFAULT_MEMBER_ROLE_NAME, MAX_MAX_CONCURRENCY } from '#lib/organization/settings.ts';
import { startLocalStore } from '#lib/store/local.ts';
import { pendingOrganizationRun } from '#lib/store/organization-runs.ts';
import { FindingsStore, StoreError } from '#lib/store/store.ts';
import { cliCommand, runCli } from '#test/cli.ts';
import { NEW, typicalRun } from '#test/notify.ts';

const MANAGEMENT = '111111111111';
const SHARED = '123456789012';
const WORKLOADS = '222222222222';
const SANDBOX = '333333333333';
const AUDITED = [MANAGEMENT, SHARED, WORKLOADS];

interface OrgJson {
  organizationRunId: string;
  accounts: {
    account: { id: string; name: string };
    state: string;
    reason: string | null;
    run: { accountId: string; checks: string[]; complete: boolean; counts: { new: number } } | null;
    findings: { accountId: string; checkId: string; status: string; resource: string; title: string }[];
    resolved: unknown[];
  }[];
}

const cli = (...args: string[]) => runCli(['run', '--org', ...args]);
const noStore = (...args: string[]) => cli(...args, '--no-store');

/** The rows of the summary table: account ID and state, in the order printed. */
function rows(stdout: string): { id: string; state: string }[] {
  return [...stdout.matchAll(/^│ (\d{12}) +│[^│]*│ (\w+) +│/gm)].map((m) => ({ id: m[1]!, state: m[2]! }));
}

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'aa-run-org-'));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('run --org --demo (the demo organization)', () => {
  it('one row per ACTIVE account, the account without its member role in ERROR first, the others complete; exit 2', async () => {
    const { code, stdout } = await noStore('--demo', '--quiet');
    expect(rows(stdout)).toEqual([
      { id: SANDBOX, state: 'failed' },
      { id: MANAGEMENT, state: 'complete' },
      { id: SHARED, state: 'complete' },
      { id: WORKLOADS, state: 'complete' },
    ]);
    expect(stdout).toContain('4 accounts: 3 complete, 0 incomplete, 1 failed');
    expect(stdout).toMatch(
      new RegExp(
        `accounts in ERROR \\(1\\):\\n  ${SANDBOX} Sandbox: the account was not audited: sts:AssumeRole into arn:aws:iam::${SANDBOX}:role/${DEFAULT_MEMBER_ROLE_NAME} failed \\(AccessDenied\\)`,
      ),
    );
    // The suspended account of the export is not audited at all.
    expect(stdout).not.toContain('444444444444');
    expect(code).toBe(2);
  });

  it('progress: one line per account on stderr, as each ends; none with --quiet', async () => {
    const { stderr } = await noStore('--demo');
    const lines = stderr.split('\n').filter((l) => /^\[\d\/4\]/.test(l));
    expect(lines).toHaveLength(4);
    expect(lines.map((l) => l.slice(0, 5)).sort()).toEqual(['[1/4]', '[2/4]', '[3/4]', '[4/4]']);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\[\\d/4\\] ${WORKLOADS} Workloads Prod: complete, 1 FAIL, 3 new$`)));
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^\\[\\d/4\\] ${SANDBOX} Sandbox: failed: AccessDenied: refused: the member role does not exist`)),
    );
    expect((await noStore('--demo', '--quiet')).stderr).toBe('');
  });

  it('--format json: { organizationRunId, accounts: [{ account, state, run, findings }] }, each finding of its own account', async () => {
    const { stdout } = await noStore('--demo', '--format', 'json');
    const parsed = JSON.parse(stdout) as OrgJson;
    expect(Object.keys(parsed)).toEqual(['organizationRunId', 'accounts']);
    expect(parsed.organizationRunId).toMatch(/^\d{8}T\d{9}Z-local-[0-9a-f]{8}$/);
    expect(parsed.accounts.map((a) => a.account.id).sort()).toEqual([...AUDITED, SANDBOX].sort());
    for (const a of parsed.accounts) {
      expect(Object.keys(a)).toEqual(['account', 'state', 'reason', 'run', 'findings', 'resolved']);
      expect(a.run?.accountId).toBe(a.account.id);
      for (const f of a.findings) expect(f.accountId).toBe(a.account.id);
    }
    const sandbox = parsed.accounts.find((a) => a.account.id === SANDBOX)!;
    // A failed AssumeRole: the organization check alone, one ERROR on the account's root.
    expect(sandbox.run?.checks).toEqual(['organization']);
    expect(sandbox.findings).toMatchObject([{ checkId: 'organization', status: 'ERROR', resource: `arn:aws:iam::${SANDBOX}:root` }]);
    expect(sandbox.state).toBe('failed');
    for (const id of AUDITED) {
      const a = parsed.accounts.find((x) => x.account.id === id)!;
      expect(a.state).toBe('complete');
      expect(a.run?.checks).toContain('organization');
      expect(a.findings.filter((f) => f.checkId === 'organization').map((f) => f.status)).toEqual(['PASS']);
    }
    // The SCP denying IAM's writes caps the workload admin, naming the SCP (SPEC 3.3).
    const workloads = parsed.accounts.find((a) => a.account.id === WORKLOADS)!;
    expect(workloads.findings.find((f) => f.checkId === 'user-full-access')).toMatchObject({
      status: 'FAIL',
      title: expect.stringContaining('DenyIamChanges'),
    });
  });

  it('--format csv: one header, then every account’s findings, each row naming its account', async () => {
    const { stdout } = await noStore('--demo', '--format', 'csv');
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('id,accountId,checkId,status,severity,change,resource,title,details');
    expect(lines.filter((l) => l.startsWith('id,'))).toHaveLength(1);
    const accounts = new Set(lines.slice(1).map((l) => l.split(',')[1]));
    expect([...accounts].sort()).toEqual([...AUDITED, SANDBOX].sort());
  });

  it('--format asff and ocsf: one array of every account’s findings, each under its own account', async () => {
    const asff = JSON.parse((await noStore('--demo', '--format', 'asff', '--quiet')).stdout) as { AwsAccountId: string; Id: string }[];
    expect([...new Set(asff.map((f) => f.AwsAccountId))].sort()).toEqual([...AUDITED, SANDBOX].sort());
    for (const f of asff) expect(f.Id.startsWith(`${f.AwsAccountId}#`)).toBe(true);
    const ocsf = JSON.parse((await noStore('--demo', '--format', 'ocsf', '--quiet')).stdout) as { cloud: { account: { uid: string } } }[];
    expect(ocsf).toHaveLength(asff.length);
  });

  it('--accounts: only those accounts; the exit code is then the --fail-on rule over them', async () => {
    const only = await noStore('--demo', '--accounts', WORKLOADS, '--quiet');
    expect(rows(only.stdout)).toEqual([{ id: WORKLOADS, state: 'complete' }]);
    // Its admin is FAIL high (capped by the SCP), no ERROR anywhere.
    expect(only.code).toBe(1);
    expect((await noStore('--demo', '--accounts', WORKLOADS, '--fail-on', 'critical')).code).toBe(0);
    const excluded = await noStore('--demo', '--exclude-accounts', SANDBOX, '--quiet', '--fail-on', 'none');
    expect(rows(excluded.stdout).map((r) => r.id)).toEqual(AUDITED);
    expect(excluded.code).toBe(0);
  });

  it('--ous and --exclude-ous choose by the OU chains of the export', async () => {
    const under = await noStore('--demo', '--ous', 'ou-a1b2-workload', '--quiet');
    expect(rows(under.stdout).map((r) => r.id)).toEqual([WORKLOADS]);
    const outside = await noStore('--demo', '--exclude-ous', 'ou-a1b2-sandbox1', '--quiet');
    expect(rows(outside.stdout).map((r) => r.id)).toEqual(AUDITED);
  });

  it('--role-name names the member role in the ERROR of an account where it could not be assumed', async () => {
    const { stdout } = await noStore('--demo', '--accounts', SANDBOX, '--role-name', 'AuditRead', '--quiet');
    expect(stdout).toContain(`sts:AssumeRole into arn:aws:iam::${SANDBOX}:role/AuditRead failed`);
  });
});

describe('run --org --from DIR (an organization export)', () => {
  it('an ACTIVE account the export holds nothing for is not audited: its organization check says why; a stray folder is named', async () => {
    const dir = join(stateDir, 'export');
    await cp(DEMO_ORGANIZATION_DIR, dir, { recursive: true });
    await rm(join(dir, 'accounts', WORKLOADS), { recursive: true });
    await mkdir(join(dir, 'accounts', '555555555555'));
    const { code, stdout, stderr } = await cli('--from', dir, '--no-store', '--format', 'json');
    const parsed = JSON.parse(stdout) as OrgJson;
    const workloads = parsed.accounts.find((a) => a.account.id === WORKLOADS)!;
    expect(workloads.state).toBe('failed');
    expect(workloads.findings).toMatchObject([
      { checkId: 'organization', status: 'ERROR', title: expect.stringContaining(`no folder accounts/${WORKLOADS}/ in the export`) },
    ]);
    expect(parsed.accounts.find((a) => a.account.id === MANAGEMENT)!.state).toBe('complete');
    expect(stderr).toContain('note: accounts/555555555555 is not audited');
    expect(code).toBe(2);
  });

  it('an account folder that cannot be loaded (another account’s export, a malformed file) is its organization ERROR, in every format', async () => {
    const dir = join(stateDir, 'export');
    await cp(DEMO_ORGANIZATION_DIR, dir, { recursive: true });
    await rm(join(dir, 'accounts', WORKLOADS), { recursive: true });
    await cp(join(dir, 'accounts', MANAGEMENT), join(dir, 'accounts', WORKLOADS), { recursive: true });
    await writeFile(join(dir, 'accounts', SHARED, 'caller-identity.json'), '{');
    const { code, stdout } = await cli('--from', dir, '--no-store', '--format', 'json', '--quiet');
    const parsed = JSON.parse(stdout) as OrgJson;
    const of = (id: string) => parsed.accounts.find((a) => a.account.id === id)!;
    expect(of(WORKLOADS).state).toBe('failed');
    expect(of(WORKLOADS).findings).toMatchObject([
      {
        accountId: WORKLOADS,
        checkId: 'organization',
        status: 'ERROR',
        title: expect.stringContaining(`its files are from account ${MANAGEMENT}`),
      },
    ]);
    expect(of(SHARED).state).toBe('failed');
    expect(of(SHARED).findings).toMatchObject([
      {
        accountId: SHARED,
        checkId: 'organization',
        status: 'ERROR',
        title: expect.stringContaining('caller-identity.json: not valid JSON'),
      },
    ]);
    expect(code).toBe(2);
    const csv = await cli('--from', dir, '--no-store', '--format', 'csv', '--quiet');
    const errors = csv.stdout.split('\n').filter((l) => l.includes(',organization,ERROR,'));
    expect(errors.map((l) => l.split(',')[1]).sort()).toEqual([SHARED, WORKLOADS, SANDBOX].sort());
  });

  it('an account the OU flags cannot be applied to is its organization ERROR, saved under the account', async () => {
    const dir = join(stateDir, 'export');
    await cp(DEMO_ORGANIZATION_DIR, dir, { recursive: true });
    await rm(join(dir, 'organization', 'list-parents', `${WORKLOADS}.json`));
    const state = join(stateDir, 'state');
    const { code, stdout } = await cli(
      '--from',
      dir,
      '--state-dir',
      state,
      '--exclude-ous',
      'ou-a1b2-platform',
      '--format',
      'json',
      '--quiet',
    );
    const workloads = (JSON.parse(stdout) as OrgJson).accounts.find((a) => a.account.id === WORKLOADS)!;
    expect(workloads.state).toBe('failed');
    expect(workloads.findings).toMatchObject([
      {
        checkId: 'organization',
        status: 'ERROR',
        title: expect.stringContaining('its OUs are unknown, so the OU settings cannot be applied'),
      },
    ]);
    expect(code).toBe(2);
    const saved = await runCli(['findings', '--account', WORKLOADS, '--state-dir', state, '--format', 'json']);
    expect(saved.stdout).toContain('its OUs are unknown');
  });
});

describe('run --org: bad usage exits 2 with a clear message', () => {
  it.each([
    [
      ['--concurrency', '0'],
      `--concurrency must be from 1 to ${MAX_MAX_CONCURRENCY} accounts at once (default ${DEFAULT_MAX_CONCURRENCY}), got 0`,
    ],
    [['--concurrency', String(MAX_MAX_CONCURRENCY + 1)], `--concurrency must be from 1 to ${MAX_MAX_CONCURRENCY}`],
    [['--concurrency', 'many'], 'must be a whole number'],
    [['--accounts', '2222'], '--accounts "2222": must be a 12-digit AWS account ID'],
    [['--exclude-ous', 'sandbox'], '--exclude-ous "sandbox": must be an organizational unit ID'],
    [['--role-name', 'no spaces allowed'], '--role-name: must be an IAM role name'],
    [['--from', '/nonexistent/export'], '/nonexistent/export'],
    [['--demo', '--from', DEMO_ORGANIZATION_DIR], 'use either --demo or --from DIR'],
    [['--checks', 'organization'], '`organization` is added to every account'],
  ])('%j', async (args, message) => {
    const { code, stdout, stderr } = await noStore(...(args.includes('--from') ? [] : ['--demo']), ...args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(stdout).toBe('');
  });

  it('the organization flags without --org', async () => {
    const { code, stderr } = await runCli(['run', '--demo', '--no-store', '--accounts', WORKLOADS, '--concurrency', '5']);
    expect(code).toBe(2);
    expect(stderr).toContain('--accounts, --concurrency only apply with --org');
  });

  it('the help states the defaults lib/organization/settings.ts has', async () => {
    const help = (await runCli(['run', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(help).toContain(`default ${DEFAULT_MEMBER_ROLE_NAME}`);
    expect(help).toContain(`default ${DEFAULT_MAX_CONCURRENCY}, 1 to ${MAX_MAX_CONCURRENCY}`);
  });
});

describe('run --org with state', () => {
  it('each account’s run is saved under its own account, and an organization run record lists them', async () => {
    const first = JSON.parse((await cli('--demo', '--state-dir', stateDir, '--format', 'json', '--quiet')).stdout) as OrgJson;
    const second = JSON.parse((await cli('--demo', '--state-dir', stateDir, '--format', 'json', '--quiet')).stdout) as OrgJson;
    for (const a of first.accounts) expect(a.run!.counts.new).toBeGreaterThan(0);
    // The second night knows every account's findings: nothing is new.
    for (const a of second.accounts) expect(a.run!.counts.new).toBe(0);

    const findings = await runCli(['findings', '--state-dir', stateDir, '--account', WORKLOADS, '--format', 'json']);
    const open = JSON.parse(findings.stdout) as { accountId: string }[];
    expect(open.length).toBeGreaterThan(0);
    expect(new Set(open.map((f) => f.accountId))).toEqual(new Set([WORKLOADS]));

    const local = await startLocalStore(stateDir, { create: false, readOnly: true });
    try {
      const store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 });
      const records = await store.listOrganizationRuns({ limit: 5 });
      expect(records.map((r) => r.organizationRunId)).toEqual([second.organizationRunId, first.organizationRunId]);
      expect(records[0]).toMatchObject({ accounts: 4, complete: 3, incomplete: 0, failed: 1, inError: [{ id: SANDBOX, state: 'failed' }] });
      expect(records[0]!.perAccount.map((l) => l.id).sort()).toEqual([...AUDITED, SANDBOX].sort());
      expect(records[0]!.alert).toMatchObject({ mode: 'digest', wanted: true, messageId: null });
    } finally {
      await local.close();
    }
  });

  it('each account’s digest section is stored before its run is saved, and the digest is built from the stored sections', async () => {
    const order: string[] = [];
    const put = FindingsStore.prototype.putAccountSection;
    const save = FindingsStore.prototype.saveRun;
    const query = FindingsStore.prototype.querySections;
    const puts = vi.spyOn(FindingsStore.prototype, 'putAccountSection').mockImplementation(function (this: FindingsStore, id, section) {
      order.push(`section ${section.account.id}`);
      return put.call(this, id, section);
    });
    const saves = vi.spyOn(FindingsStore.prototype, 'saveRun').mockImplementation(function (this: FindingsStore, reconciled, options) {
      order.push(`save ${reconciled.run.accountId}`);
      return save.call(this, reconciled, options);
    });
    // What the digest reads: a section changed in the store after it was written shows in the digest.
    const queries = vi.spyOn(FindingsStore.prototype, 'querySections').mockImplementation(async function (this: FindingsStore, id) {
      order.push('query');
      const stored = await query.call(this, id);
      return stored.map((s) =>
        s.accountId === WORKLOADS ? { ...s, section: { ...(s.section as object), account: { id: WORKLOADS, name: 'as stored' } } } : s,
      );
    });
    try {
      const { stderr } = await cli('--demo', '--state-dir', stateDir, '--show-alert', '--quiet', '--format', 'json', '--concurrency', '1');
      for (const id of AUDITED) expect(order.indexOf(`section ${id}`)).toBeLessThan(order.indexOf(`save ${id}`));
      expect(order.indexOf(`section ${SANDBOX}`)).toBeLessThan(order.indexOf(`save ${SANDBOX}`));
      expect(order.at(-1)).toBe('query');
      expect(stderr).toContain(`== ${WORKLOADS} (as stored)`);
    } finally {
      puts.mockRestore();
      saves.mockRestore();
      queries.mockRestore();
    }
  });

  it('--show-alert prints the digest: the account in ERROR first, then the accounts with changes', async () => {
    const { stdout } = await noStore('--demo', '--show-alert', '--quiet');
    const digest = stdout.slice(stdout.indexOf('digest that would be published'));
    expect(digest).toMatch(/^digest that would be published \(no --topic\)/);
    expect(digest.indexOf(SANDBOX)).toBeLessThan(digest.indexOf(WORKLOADS));
    expect(digest).toContain('ACCOUNTS IN ERROR (1)');
  });
});

describe('the digest and the demo', () => {
  const sns = mockClient(SNSClient);
  afterEach(() => sns.reset());

  it('--topic publishes one digest for the whole organization, and the record names its message', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'digest-1' });
    const topic = 'arn:aws:sns:eu-west-1:999999999999:audit-alerts';
    const { stdout } = await cli('--demo', '--state-dir', stateDir, '--topic', topic, '--quiet');
    expect(stdout).toContain(`digest published to ${topic} (SNS message digest-1)`);
    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input).toMatchObject({ TopicArn: topic, MessageStructure: 'json' });
    expect(input.Subject!.length).toBeLessThanOrEqual(100);
    const message = JSON.parse(input.Message!) as { default: string; email: string };
    expect(JSON.parse(message.default)).toMatchObject({ kind: 'organization-digest', counts: { accounts: 4, failed: 1 } });
    const local = await startLocalStore(stateDir, { create: false, readOnly: true });
    try {
      const store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 });
      expect((await store.listOrganizationRuns({ limit: 1 }))[0]!.alert).toMatchObject({ wanted: true, messageId: 'digest-1' });
    } finally {
      await local.close();
    }
  });

  it('a digest that cannot be published: printed on stderr, recorded as not published, exit 2 naming the topic', async () => {
    sns.on(PublishCommand).rejects(Object.assign(new Error('Topic does not exist'), { name: 'NotFoundException' }));
    const topic = 'arn:aws:sns:eu-west-1:999999999999:gone';
    const { code, stdout, stderr } = await cli('--demo', '--state-dir', stateDir, '--topic', topic, '--quiet', '--format', 'json');
    expect(code).toBe(2);
    expect(JSON.parse(stdout)).toMatchObject({ accounts: expect.any(Array) });
    expect(stderr).toContain(`digest NOT published to ${topic} (NotFoundException: Topic does not exist)`);
    expect(stderr).toContain('Subject: account-auditor organization: ');
    expect(stderr).toContain(`account-auditor: the digest could not be published to ${topic}`);
    const local = await startLocalStore(stateDir, { create: false, readOnly: true });
    try {
      const store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 });
      expect((await store.listOrganizationRuns({ limit: 1 }))[0]!.alert).toMatchObject({
        wanted: true,
        messageId: null,
        reason: 'the digest could not be published: NotFoundException: Topic does not exist',
      });
    } finally {
      await local.close();
    }
  });

  it('an account whose state cannot be saved: reported, in ERROR, its state-not-saved alert published; the others saved', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'msg' });
    const save = FindingsStore.prototype.saveRun;
    const spy = vi.spyOn(FindingsStore.prototype, 'saveRun').mockImplementation(function (this: FindingsStore, reconciled, options) {
      if (reconciled.run.accountId === WORKLOADS) return Promise.reject(new StoreError('injected: the table is unavailable'));
      return save.call(this, reconciled, options);
    });
    try {
      const topic = 'arn:aws:sns:eu-west-1:999999999999:audit-alerts';
      const { code, stdout } = await cli('--demo', '--state-dir', stateDir, '--topic', topic, '--quiet', '--format', 'json');
      expect(code).toBe(2);
      const parsed = JSON.parse(stdout) as OrgJson & { accounts: { stateNotSaved?: { message: string } }[] };
      const workloads = parsed.accounts.find((a) => a.account.id === WORKLOADS)!;
      expect(workloads).toMatchObject({ state: 'incomplete', stateNotSaved: { message: 'injected: the table is unavailable' } });
      expect(workloads.reason).toContain('the state was not saved');
      expect(workloads.findings.length).toBeGreaterThan(0);
      expect(parsed.accounts.find((a) => a.account.id === MANAGEMENT)!.state).toBe('complete');
      const subjects = sns.commandCalls(PublishCommand).map((c) => c.args[0].input.Subject ?? '');
      // The account's own state-not-saved alert, then the one digest.
      expect(subjects.filter((t) => t.includes(WORKLOADS))).toHaveLength(1);
      expect(subjects.filter((t) => t.startsWith('account-auditor organization'))).toHaveLength(1);
      expect(subjects).toHaveLength(2);
    } finally {
      spy.mockRestore();
    }
  });

  /** A run that stopped before it reported, as its record and one account's section are left in the state. */
  async function interruptedRun(): Promise<void> {
    const local = await startLocalStore(stateDir);
    try {
      const store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 });
      const startedAt = '2026-11-01T03:00:00.000Z';
      const accounts = [
        { id: WORKLOADS, name: 'Workloads' },
        { id: SHARED, name: 'Shared' },
      ];
      await store.putOrganizationRun(
        pendingOrganizationRun(
          {
            organizationRunId: 'org-killed',
            startedAt,
            accounts,
            discovery: { listed: 2, active: 2, filteredOut: 0, missing: [] },
            alerts: 'digest',
          },
          startedAt,
        ),
      );
      await store.putAccountSection('org-killed', sectionFromAlert(accounts[0]!, buildAlert(typicalRun(), NEW))!);
    } finally {
      await local.close();
    }
  }

  it('--topic: the late digest of a run that stopped before it reported goes out first, then this run’s', async () => {
    await interruptedRun();
    let n = 0;
    sns.on(PublishCommand).callsFake(() => ({ MessageId: `msg-${++n}` }));
    const topic = 'arn:aws:sns:eu-west-1:999999999999:audit-alerts';
    const { stderr } = await cli('--demo', '--state-dir', stateDir, '--topic', topic);
    expect(stderr).toContain('note: published the late digest of organization run org-killed (started 2026-11-01T03:00:00.000Z)');
    expect(stderr.search(/organization run \S+: 4 accounts/)).toBeGreaterThan(stderr.indexOf('note: published the late digest'));
    const subjects = sns.commandCalls(PublishCommand).map((c) => c.args[0].input.Subject ?? '');
    expect(subjects).toHaveLength(2);
    expect(subjects[0]).toMatch(/^account-auditor organization, late digest of the run of 2026-11-01T03:00Z: 2 new/);
    expect(subjects[1]).toMatch(/^account-auditor organization: /);
    // Once: the next run finds nothing pending.
    await cli('--demo', '--state-dir', stateDir, '--topic', topic, '--quiet');
    expect(
      sns
        .commandCalls(PublishCommand)
        .map((c) => c.args[0].input.Subject ?? '')
        .filter((t) => t.includes('late digest')),
    ).toHaveLength(1);
  });

  it('the stored sections cannot be read back: the digest is built from the runs in memory and still published', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'digest-1' });
    const spy = vi.spyOn(FindingsStore.prototype, 'querySections').mockRejectedValue(new Error('Query refused'));
    try {
      const topic = 'arn:aws:sns:eu-west-1:999999999999:audit-alerts';
      const { stderr } = await cli('--demo', '--state-dir', stateDir, '--topic', topic, '--quiet', '--format', 'json');
      expect(stderr).toContain('warning: the stored digest sections could not be read (Error: Query refused)');
      const calls = sns.commandCalls(PublishCommand);
      expect(calls).toHaveLength(1);
      const digest = JSON.parse((JSON.parse(calls[0]!.args[0].input.Message!) as { default: string }).default) as DigestSummary;
      expect(digest.counts).toMatchObject({ accounts: 4, failed: 1 });
      expect(digest.counts.new).toBeGreaterThan(0);
    } finally {
      spy.mockRestore();
    }
  });

  it('a late digest that cannot be published is named on stderr and stays pending for the next run', async () => {
    await interruptedRun();
    let n = 0;
    sns.on(PublishCommand).callsFake(() => {
      if (++n === 1) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottledException' });
      return { MessageId: `msg-${n}` };
    });
    const topic = 'arn:aws:sns:eu-west-1:999999999999:audit-alerts';
    const { stderr } = await cli('--demo', '--state-dir', stateDir, '--topic', topic, '--quiet');
    expect(stderr).toContain(
      `warning: the late digest of organization run org-killed (started 2026-11-01T03:00:00.000Z) could not be published to ${topic} (ThrottledException: Rate exceeded); the next run tries again`,
    );
    const local = await startLocalStore(stateDir, { create: false, readOnly: true });
    try {
      const store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 });
      expect((await store.getOrganizationRun('2026-11-01T03:00:00.000Z', 'org-killed'))!.alert.messageId).toBeNull();
    } finally {
      await local.close();
    }
  });

  it('demo: the single-account nights as before, then the demo organization and its digest', async () => {
    const { code, stdout } = await runCli(['demo']);
    expect(code).toBe(0);
    const org = stdout.indexOf('# The demo organization');
    expect(stdout.indexOf('# Night 1')).toBe(0);
    expect(org).toBeGreaterThan(stdout.indexOf('# Night 2'));
    const part = stdout.slice(org);
    expect(rows(part).map((r) => r.id)).toEqual([SANDBOX, MANAGEMENT, SHARED, WORKLOADS]);
    expect(part).toContain('state in a temporary folder');
    expect(part).toMatch(/digest that would be published \(no --topic\)[^\n]*\nSubject: account-auditor organization: /);
  });
});

describe('the built command line', () => {
  it('a run killed after an account was saved stays listed by runs --org: not finished, its digest not published', () => {
    const [command, args] = cliCommand(['run', '--org', '--demo', '--state-dir', stateDir, '--quiet', '--concurrency', '1']);
    const killed = spawnSync(command, args, {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, ACCOUNT_AUDITOR_TEST_KILL_AT: 'committed:1' },
    });
    expect(killed.signal).toBe('SIGKILL');
    const [listCommand, listArgs] = cliCommand(['runs', '--org', '--state-dir', stateDir, '--format', 'json']);
    const listed = spawnSync(listCommand, listArgs, { encoding: 'utf8', timeout: 60_000 });
    const records = JSON.parse(listed.stdout) as {
      accounts: number;
      failed: number;
      alert: { messageId: string | null; reason: string };
    }[];
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ accounts: 4, failed: 4, alert: { messageId: null } });
    expect(records[0]!.alert.reason).toContain('the run has not finished');
  });

  it('killed after the first account was saved: the next run --org --topic publishes the late digest with its new findings', async () => {
    const [command, args] = cliCommand(['run', '--org', '--demo', '--state-dir', stateDir, '--quiet', '--concurrency', '1']);
    const killed = spawnSync(command, args, {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, ACCOUNT_AUDITOR_TEST_KILL_AT: 'committed:1' },
    });
    expect(killed.signal).toBe('SIGKILL');

    // SNS over HTTP (the Query protocol), answered by a stub the bin reaches through AWS_ENDPOINT_URL_SNS.
    const published: URLSearchParams[] = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      request.on('end', () => {
        published.push(new URLSearchParams(body));
        response.writeHead(200, { 'content-type': 'text/xml' });
        response.end(
          `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>stub-${published.length}</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`,
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const topic = 'arn:aws:sns:eu-west-1:999999999999:audit-alerts';
    try {
      const [next, nextArgs] = cliCommand(['run', '--org', '--demo', '--state-dir', stateDir, '--topic', topic]);
      const out = await new Promise<{ stderr: string }>((resolve) => {
        execFile(
          next,
          nextArgs,
          {
            encoding: 'utf8',
            timeout: 60_000,
            env: {
              ...process.env,
              AWS_ENDPOINT_URL_SNS: `http://127.0.0.1:${port}`,
              AWS_ACCESS_KEY_ID: 'test',
              AWS_SECRET_ACCESS_KEY: 'test',
              AWS_REGION: 'eu-west-1',
            },
          },
          (_error, _stdout, stderr) => resolve({ stderr }),
        );
      });
      const digests = published.map((p) => ({
        subject: p.get('Subject') ?? '',
        digest: JSON.parse((JSON.parse(p.get('Message') ?? '{}') as { default: string }).default) as DigestSummary,
      }));
      expect(digests).toHaveLength(2);
      const [late, own] = digests;
      expect(late!.subject).toMatch(/^account-auditor organization, late digest of the run of \d{4}-\d\d-\d\dT\d\d:\d\dZ: /);
      expect(late!.digest.late).toContain('stopped before it reported');
      expect(out.stderr).toContain(`note: published the late digest of organization run ${late!.digest.organizationRunId}`);
      // The one account the killed run saved stored its section first: the late digest carries its findings.
      const saved = late!.digest.accounts.filter((a) => a.runId !== null);
      expect(saved).toHaveLength(1);
      const account = saved[0]!.account.id;
      expect(saved[0]!.totals.new).toBeGreaterThan(0);
      // Its findings are known now: this run's own digest does not call them new, so the late one is their only alert.
      expect(own!.digest.late).toBeUndefined();
      expect(own!.digest.organizationRunId).not.toBe(late!.digest.organizationRunId);
      expect(own!.digest.accounts.find((a) => a.account.id === account)?.totals.new ?? 0).toBe(0);

      const [listCommand, listArgs] = cliCommand(['runs', '--org', '--state-dir', stateDir, '--format', 'json']);
      const records = JSON.parse(spawnSync(listCommand, listArgs, { encoding: 'utf8', timeout: 60_000 }).stdout) as {
        organizationRunId: string;
        alert: { messageId: string | null };
      }[];
      expect(records.map((r) => [r.organizationRunId, r.alert.messageId])).toEqual([
        [own!.digest.organizationRunId, 'stub-2'],
        [late!.digest.organizationRunId, 'stub-1'],
      ]);
    } finally {
      server.close();
    }
  });

  it('run --org --demo exits 2 and reports progress on stderr, the table on stdout', () => {
    const [command, args] = cliCommand(['run', '--org', '--demo', '--no-store']);
    const out = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(new RegExp(`\\[\\d/4\\] ${SANDBOX} Sandbox: failed: `));
    expect(rows(out.stdout)).toHaveLength(4);
  });
});
