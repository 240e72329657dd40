import { describe, expect, it } from 'vitest';
import { buildAlert, shouldAlert, SNS_MAX_BYTES } from '#lib/notify/alert.ts';
import type { Alert, AlertSummary } from '#lib/notify/alert.ts';
import { rootAccessKey, userFullAccess, accessKeyAge } from '#test/checks.ts';
import type { Settings } from '#lib/settings.ts';
import { missingPermission } from '#lib/notify/format.ts';
import { LIVE_READ_ACTIONS } from '#lib/inventory/registry.ts';
import { ACCOUNT, MUTE, finding, fiveThousandNew, NEW, reconciledRun, TABLE, typicalRun } from '#test/notify.ts';

const OPEN: Pick<Settings, 'alertOn' | 'minAlertSeverity'> = { alertOn: 'open', minAlertSeverity: 'low' };
const ALWAYS: Pick<Settings, 'alertOn' | 'minAlertSeverity'> = { alertOn: 'always', minAlertSeverity: 'low' };
const MODES = [NEW, OPEN, ALWAYS];

const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const user = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;

/** The bytes SNS counts: the message, the subject and every attribute's name, type and value. */
function snsBytes(alert: Alert): number {
  let bytes = Buffer.byteLength(alert.message) + Buffer.byteLength(alert.subject);
  for (const [name, v] of Object.entries(alert.attributes))
    bytes += Buffer.byteLength(name) + Buffer.byteLength(v.DataType ?? '') + Buffer.byteLength(v.StringValue ?? '');
  return bytes;
}

function parse(alert: Alert): { default: AlertSummary; email: string } {
  const outer = JSON.parse(alert.message) as Record<string, unknown>;
  expect(Object.keys(outer).sort()).toEqual(['default', 'email']);
  expect(typeof outer.default).toBe('string');
  expect(typeof outer.email).toBe('string');
  return { default: JSON.parse(outer.default as string) as AlertSummary, email: outer.email as string };
}

describe('subject', () => {
  it('names the account and the new findings by severity, in under 100 characters, on one line', () => {
    const alert = buildAlert(typicalRun(), NEW);
    expect(alert.subject).toBe(`account-auditor ${ACCOUNT}: 2 new (1 critical, 1 high), 1 resolved, checks in ERROR: 1`);
    expect(alert.subject.length).toBeLessThan(100);
    expect(alert.subject).not.toMatch(/[\r\n]/);
  });

  it('counts a regressed FAIL as new in the subject, and shows open counts under alertOn open', () => {
    const run = reconciledRun([
      finding({
        change: 'regressed',
        status: 'FAIL',
        severity: 'medium',
        checkId: 'access-key-age',
        resource: `${user('a')}#access_key_1`,
        previousStatus: 'WARN',
      }),
      finding({
        change: 'open',
        status: 'FAIL',
        severity: 'low',
        checkId: 'elasticache-service-linked-role',
        resource: 'arn:aws:iam::123456789012:role/x',
      }),
    ]);
    expect(buildAlert(run, NEW).subject).toBe(`account-auditor ${ACCOUNT}: 1 new (1 medium)`);
    expect(buildAlert(run, OPEN).subject).toBe(`account-auditor ${ACCOUNT}: 1 new (1 medium), 2 open`);
  });

  it('stays ASCII, single-line and under 100 characters with hostile input and huge counts', () => {
    const severities = ['critical', 'high', 'medium', 'low', 'informational'] as const;
    const findings = Array.from({ length: 60_000 }, (_, i) =>
      finding({
        change: i % 7 === 0 ? 'resolved' : 'new',
        status: i % 7 === 0 ? 'PASS' : 'FAIL',
        previousStatus: i % 7 === 0 ? 'FAIL' : null,
        severity: severities[i % 5]!,
        resource: user(`u${i}`),
      }),
    );
    const run = reconciledRun(findings, {
      accountId: 'acct\nwith\u0007control “quotes” and a very long name that goes on and on',
      checksInError: [{ checkId: 'root-access-key', reasons: ['x'] }],
      sources: [
        {
          source: 'credential report',
          input: 'credentialReport',
          state: 'unread',
          call: 'iam:GetCredentialReport',
          reason: 'denied',
          code: 'AccessDenied',
        },
      ],
    });
    const { subject, summary } = buildAlert(run, OPEN, { maxBytes: SNS_MAX_BYTES });
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    expect(subject).toContain(`${summary.counts.newlyFailing} new`);
    // The worst news survives the cut.
    expect(subject).toContain('checks in ERROR: 1');
    expect(subject).toContain('sources not read: 1');
  });
});

describe('message', () => {
  it('is a JSON structure with the summary in default and readable text in email', () => {
    const alert = buildAlert(typicalRun(), NEW, { tableName: TABLE });
    expect(alert.messageStructure).toBe('json');
    const { default: summary, email } = parse(alert);
    expect(summary).toEqual(alert.summary);
    expect(email).toBe(alert.email);

    expect(summary).toMatchObject({
      accountId: ACCOUNT,
      runId: alert.summary.runId,
      alert: true,
      highestSeverity: 'critical',
      counts: { newlyFailing: 2, new: 2, regressed: 0, stillOpen: 2, open: 4, resolved: 1, errorChecks: 1 },
      truncated: 0,
      fullList: { table: TABLE, command: 'account-auditor findings' },
    });
    // Most severe first.
    expect(summary.new.map((i) => i.checkId)).toEqual(['root-access-key', 'user-full-access']);
    expect(summary.new[0]).toEqual({
      id: `${ACCOUNT}#root-access-key#${ROOT}`,
      checkId: 'root-access-key',
      resource: ROOT,
      status: 'FAIL',
      severity: 'critical',
      title: 'the root user has an active access key',
      remediation: rootAccessKey.remediation.command,
      firstSeen: expect.any(String),
      previousStatus: null,
    });
    expect(summary.resolved).toEqual([
      expect.objectContaining({ resource: user('dave'), previousStatus: 'FAIL', resolvedAt: expect.any(String), remediation: null }),
    ]);
    const error = summary.stillOpen.find((i) => i.status === 'ERROR');
    expect(error).toMatchObject({
      checkId: 'dax-service-role',
      error: { call: 'dax:DescribeClusters', code: 'AccessDeniedException' },
      remediation: expect.stringContaining('allow dax:DescribeClusters'),
    });
    // The fixture's sources were all read: no permission to name (the permission matrix covers the real thing).
    expect(summary.checksInError).toEqual([
      {
        checkId: 'dax-service-role',
        reasons: [expect.stringContaining('dax:DescribeClusters failed')],
        moreReasons: 0,
        missingPermissions: [],
      },
    ]);
    expect(summary.kind).toBe('findings');

    for (const section of ['CHECKS IN ERROR (1)', 'NEW (2)', 'REGRESSED (failing again) (0)', 'STILL OPEN (2)', 'RESOLVED (1)'])
      expect(email).toContain(section);
    expect(email).toContain(`- CRITICAL FAIL root-access-key ${ROOT}\n    the root user has an active access key`);
    expect(email).toContain(`fix: ${rootAccessKey.remediation.command}`);
    // The user is filled in, so the command can be pasted.
    expect(email).toContain(`fix: ${userFullAccess.remediation.command.replaceAll('<user>', 'bob')}`);
    expect(email).toContain(`fix: ${accessKeyAge.remediation.command.replaceAll('<user>', 'carol')}`);
    expect(summary.new[1]!.remediation).toBe('aws iam detach-user-policy --user-name bob --policy-arn <policy-arn>');
    expect(email).toContain(`- HIGH was FAIL user-full-access ${user('dave')}`);
    expect(email).toContain('allow dax:DescribeClusters');
    expect(email).toContain(`DynamoDB table ${TABLE}`);
    expect(email).toContain('`account-auditor findings`');
    // Sections come in order, the worst news first.
    const order = ['CHECKS IN ERROR', 'NEW (', 'REGRESSED', 'STILL OPEN', 'RESOLVED'].map((s) => email.indexOf(s));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    // PASS findings that did not change are nobody's news.
    expect(email).not.toContain(user('erin'));
  });

  it('says what could not be read, which checks read it, and which permission is missing', () => {
    const run = reconciledRun([], {
      sources: [
        { source: 'account summary', input: 'accountSummary', state: 'read' },
        {
          source: 'credential report',
          input: 'credentialReport',
          state: 'unread',
          call: 'iam:GetCredentialReport',
          reason: 'User: x is not authorized to perform: iam:GetCredentialReport',
          code: 'AccessDenied',
        },
        {
          source: 'elasticache eu-west-1',
          input: 'elastiCache',
          state: 'unread',
          call: 'elasticache:DescribeCacheClusters',
          reason: 'Rate exceeded',
          code: 'Throttling',
        },
      ],
    });
    const alert = buildAlert(run, NEW);
    const { default: summary, email } = parse(alert);
    expect(summary.unreadSources).toEqual([
      {
        source: 'credential report',
        call: 'iam:GetCredentialReport',
        reason: expect.any(String),
        code: 'AccessDenied',
        missingPermission: 'iam:GetCredentialReport',
        checks: ['root-access-key', 'access-key-age'],
      },
      {
        source: 'elasticache eu-west-1',
        call: 'elasticache:DescribeCacheClusters',
        reason: 'Rate exceeded',
        code: 'Throttling',
        missingPermission: null,
        checks: ['elasticache-service-linked-role'],
      },
    ]);
    // Derived from the sources when the record predates the field, as here.
    expect(summary.missingPermissions).toEqual(['iam:GetCredentialReport']);
    expect(email).toContain("Missing permissions: iam:GetCredentialReport: allow them for the auditor's role, then run the audit again.");
    expect(email).toContain('NOT READ (2)');
    expect(email).toContain('- credential report: iam:GetCredentialReport failed (AccessDenied)');
    expect(email).toContain('    missing permission: iam:GetCredentialReport\n    read by: root-access-key, access-key-age');
    expect(email).toContain(
      '- elasticache eu-west-1: elasticache:DescribeCacheClusters failed (Throttling): Rate exceeded\n    read by: elasticache-service-linked-role',
    );
    expect(alert.subject).toBe(`account-auditor ${ACCOUNT}: 0 new, sources not read: 2`);
  });

  it('names, per check in ERROR, the permission its sources were denied', () => {
    const run = reconciledRun([], {
      sources: [
        {
          source: 'authorization details',
          input: 'authorizationDetails',
          state: 'unread',
          call: 'iam:GetAccountAuthorizationDetails',
          reason: 'denied',
          code: 'AccessDenied',
        },
        {
          source: 'dax eu-west-1',
          input: 'dax',
          state: 'unread',
          call: 'dax:DescribeClusters',
          reason: 'Rate exceeded',
          code: 'ThrottlingException',
        },
      ],
      checksInError: [
        { checkId: 'user-full-access', reasons: ['users could not be evaluated'] },
        { checkId: 'dax-service-role', reasons: ['could not be evaluated'] },
      ],
    });
    const { default: summary, email } = parse(buildAlert(run, NEW));
    expect(summary.checksInError.map((c) => [c.checkId, c.missingPermissions])).toEqual([
      ['user-full-access', ['iam:GetAccountAuthorizationDetails']],
      // dax reads both: the denied one is named, the throttled one is an error, not a permission.
      ['dax-service-role', ['iam:GetAccountAuthorizationDetails']],
    ]);
    expect(email).toContain(
      '- user-full-access (missing permission: iam:GetAccountAuthorizationDetails)\n    users could not be evaluated',
    );
    expect(email).toContain('- dax eu-west-1: dax:DescribeClusters failed (ThrottlingException): Rate exceeded');
  });

  it('a record that carries its permissions is taken as it is', () => {
    const run = reconciledRun([], {
      sources: [
        {
          source: 'account summary',
          input: 'accountSummary',
          state: 'unread',
          call: 'iam:GetAccountSummary',
          reason: 'denied',
          code: 'AccessDenied',
        },
      ],
      checksInError: [{ checkId: 'root-access-key', reasons: ['r'], missingPermissions: ['iam:GetAccountSummary'] }],
      missingPermissions: ['iam:GetAccountSummary'],
    });
    const { default: summary } = parse(buildAlert(run, NEW));
    expect(summary.missingPermissions).toEqual(['iam:GetAccountSummary']);
    expect(summary.checksInError[0]!.missingPermissions).toEqual(['iam:GetAccountSummary']);
  });

  it('lists regressed findings apart, with what they were', () => {
    const run = reconciledRun([
      finding({
        change: 'regressed',
        status: 'FAIL',
        severity: 'critical',
        checkId: 'user-full-access',
        resource: user('frank'),
        previousStatus: 'PASS',
      }),
    ]);
    const alert = buildAlert(run, NEW);
    expect(alert.summary.new).toEqual([]);
    expect(alert.summary.regressed).toEqual([expect.objectContaining({ resource: user('frank'), previousStatus: 'PASS' })]);
    expect(alert.email).toContain('REGRESSED (failing again) (1)');
    expect(alert.email).toContain('was PASS, first seen');
    expect(alert.attributes.newCount).toEqual({ DataType: 'Number', StringValue: '1' });
    expect(alert.attributes.regressedCount).toEqual({ DataType: 'Number', StringValue: '1' });
  });

  it('sorts most severe first, then by check, then by resource', () => {
    const run = reconciledRun([
      finding({
        change: 'new',
        status: 'FAIL',
        severity: 'high',
        checkId: 'dax-service-role',
        resource: 'arn:aws:dax:eu-west-1:123456789012:cache/b',
      }),
      finding({ change: 'new', status: 'FAIL', severity: 'high', checkId: 'user-full-access', resource: user('zed') }),
      finding({ change: 'new', status: 'FAIL', severity: 'low', checkId: 'root-access-key', resource: ROOT }),
      finding({ change: 'new', status: 'FAIL', severity: 'high', checkId: 'user-full-access', resource: user('amy') }),
      finding({ change: 'new', status: 'FAIL', severity: 'critical', checkId: 'user-full-access', resource: user('max') }),
    ]);
    expect(buildAlert(run, NEW).summary.new.map((i) => `${i.severity} ${i.checkId} ${i.resource}`)).toEqual([
      `critical user-full-access ${user('max')}`,
      `high user-full-access ${user('amy')}`,
      `high user-full-access ${user('zed')}`,
      'high dax-service-role arn:aws:dax:eu-west-1:123456789012:cache/b',
      `low root-access-key ${ROOT}`,
    ]);
  });
});

describe('attributes', () => {
  it('carry severity, account and counts for filter policies, typed, at most 10', () => {
    const { attributes } = buildAlert(typicalRun(), NEW);
    expect(Object.keys(attributes).length).toBeLessThanOrEqual(10);
    expect(attributes).toMatchObject({
      highestSeverity: { DataType: 'String', StringValue: 'critical' },
      accountId: { DataType: 'String', StringValue: ACCOUNT },
      newCount: { DataType: 'Number', StringValue: '2' },
      resolvedCount: { DataType: 'Number', StringValue: '1' },
      openCount: { DataType: 'Number', StringValue: '4' },
      errorChecks: { DataType: 'Number', StringValue: '1' },
      complete: { DataType: 'String', StringValue: 'false' },
    });
    for (const value of Object.values(attributes)) {
      expect(value.StringValue).toBeTruthy();
      if (value.DataType === 'Number') expect(Number.isFinite(Number(value.StringValue))).toBe(true);
    }
  });

  it('keep a persistent ERROR visible to a severity filter, even when nothing is new', () => {
    const run = reconciledRun(
      [
        finding({
          change: 'open',
          status: 'ERROR',
          severity: 'high',
          checkId: 'dax-service-role',
          resource: 'arn:aws:dax:eu-west-1:123456789012:cache/*',
        }),
      ],
      { checksInError: [{ checkId: 'dax-service-role', reasons: ['denied'] }] },
    );
    expect(buildAlert(run, NEW).attributes.highestSeverity).toEqual({ DataType: 'String', StringValue: 'high' });
  });

  it('take the highest severity from open findings under alertOn open', () => {
    const run = reconciledRun([
      finding({
        change: 'new',
        status: 'FAIL',
        severity: 'low',
        checkId: 'elasticache-service-linked-role',
        resource: 'arn:aws:iam::123456789012:role/x',
      }),
      finding({ change: 'open', status: 'FAIL', severity: 'critical', checkId: 'root-access-key', resource: ROOT }),
    ]);
    expect(buildAlert(run, NEW).attributes.highestSeverity!.StringValue).toBe('low');
    expect(buildAlert(run, OPEN).attributes.highestSeverity!.StringValue).toBe('critical');
  });
});

describe('size', () => {
  it('cuts a 5,000-finding run under 256 KB and says how many were left out', () => {
    const run = fiveThousandNew();
    const started = performance.now();
    const alert = buildAlert(run, NEW, { tableName: TABLE });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(1000);

    const bytes = snsBytes(alert);
    expect(bytes).toBeLessThanOrEqual(SNS_MAX_BYTES);
    // Cut close to the limit, not down to a handful.
    expect(bytes).toBeGreaterThan(SNS_MAX_BYTES * 0.9);

    const { default: summary, email } = parse(alert);
    const shown = summary.new.length;
    expect(shown).toBeGreaterThan(50);
    expect(shown).toBeLessThan(5000);
    expect(summary.truncated).toBe(5000 - shown);
    expect(summary.omitted.new).toBe(5000 - shown);
    expect(summary.counts.new).toBe(5000);
    expect(summary.counts.newlyFailingBySeverity.critical).toBe(5000);
    expect(email).toContain(`… and ${5000 - shown} more: the full list is in DynamoDB table ${TABLE}`);
    expect(email.split('\n').filter((l) => l.startsWith('- CRITICAL FAIL'))).toHaveLength(shown);
    expect(alert.subject).toBe(`account-auditor ${ACCOUNT}: 5000 new (5000 critical)`);
  });

  it('keeps new findings before still-open and resolved ones when cutting', () => {
    const findings = [
      ...Array.from({ length: 300 }, (_, i) =>
        finding({ change: 'resolved', status: 'PASS', previousStatus: 'FAIL', resource: user(`gone-${i}`) }),
      ),
      ...Array.from({ length: 300 }, (_, i) => finding({ change: 'open', status: 'FAIL', resource: user(`old-${i}`) })),
      ...Array.from({ length: 30 }, (_, i) => finding({ change: 'new', status: 'FAIL', resource: user(`new-${i}`) })),
    ];
    const alert = buildAlert(reconciledRun(findings), NEW, { maxBytes: 40_000 });
    expect(snsBytes(alert)).toBeLessThanOrEqual(40_000);
    const { summary, email } = alert;
    expect(summary.new).toHaveLength(30);
    // Still open is cut part way; nothing is left for resolved, and the email says so plainly.
    expect(summary.stillOpen.length).toBeGreaterThan(0);
    expect(summary.stillOpen.length).toBeLessThan(300);
    expect(summary.resolved).toEqual([]);
    expect(summary.omitted).toMatchObject({ new: 0, stillOpen: 300 - summary.stillOpen.length, resolved: 300 });
    expect(summary.truncated).toBe(600 - summary.stillOpen.length);
    expect(email).toContain('STILL OPEN (300)');
    expect(email).toContain(
      `… and ${300 - summary.stillOpen.length} more: the full list: run \`account-auditor findings\` for account ${ACCOUNT}`,
    );
    expect(email).toContain('RESOLVED (300)\n  not listed here (300): the full list: run `account-auditor findings`');
  });

  it('bounds a check in ERROR with thousands of reasons', () => {
    const reasons = Array.from(
      { length: 5000 },
      (_, i) => `${user(`u${i}`)}: could not be evaluated: policy Broken-${i} cannot be parsed ${'x'.repeat(200)}`,
    );
    const run = reconciledRun([], { checksInError: [{ checkId: 'user-full-access', reasons }] });
    const alert = buildAlert(run, NEW);
    expect(snsBytes(alert)).toBeLessThanOrEqual(SNS_MAX_BYTES);
    const [entry] = parse(alert).default.checksInError;
    expect(entry!.reasons.length + entry!.moreReasons).toBe(5000);
    expect(alert.email).toContain(`… and ${entry!.moreReasons} more`);
  });
});

describe('shouldAlert', () => {
  it('stays quiet under alertOn new when nothing is new, however much is still open', () => {
    const run = reconciledRun([
      finding({ change: 'open', status: 'FAIL', severity: 'critical', checkId: 'root-access-key', resource: ROOT }),
      finding({ change: 'unchanged', status: 'PASS' }),
    ]);
    const decision = shouldAlert(run, NEW);
    expect(decision.alert).toBe(false);
    expect(decision.reason).toContain('nothing new');
    expect(decision.reason).toContain('1 still open');
    expect(buildAlert(run, NEW).summary.alert).toBe(false);
  });

  it('alerts a new FAIL under alertOn new, with the reason', () => {
    const run = reconciledRun([finding({ change: 'new', status: 'FAIL', severity: 'medium' })]);
    expect(shouldAlert(run, NEW)).toEqual({ alert: true, reason: '1 new or regressed FAIL/ERROR finding at or above low' });
  });

  describe.each(MODES)('alertOn $alertOn', (settings) => {
    it('always alerts a check in ERROR, even when its ERROR is not new', () => {
      const run = reconciledRun(
        [
          finding({
            change: 'open',
            status: 'ERROR',
            severity: 'high',
            checkId: 'user-full-access',
            resource: `arn:aws:iam::${ACCOUNT}:user/*`,
          }),
        ],
        { checksInError: [{ checkId: 'user-full-access', reasons: ['GetAccountAuthorizationDetails failed'] }] },
      );
      const decision = shouldAlert(run, { ...settings, minAlertSeverity: 'critical' });
      expect(decision.alert).toBe(true);
      expect(decision.reason).toContain('1 check in ERROR (user-full-access)');
    });

    it('always alerts an ERROR finding, whatever its severity and the threshold', () => {
      const run = reconciledRun([
        finding({
          change: 'new',
          status: 'ERROR',
          severity: 'low',
          checkId: 'elasticache-service-linked-role',
          resource: 'arn:aws:iam::123456789012:role/x',
        }),
      ]);
      const decision = shouldAlert(run, { ...settings, minAlertSeverity: 'critical' });
      expect(decision.alert).toBe(true);
      expect(decision.reason).toContain('1 ERROR finding');
      expect(buildAlert(run, { ...settings, minAlertSeverity: 'critical' }).summary.new).toHaveLength(1);
    });

    it('always alerts an incomplete run, even without an ERROR finding', () => {
      const run = reconciledRun([], {
        sources: [
          {
            source: 'access keys of bob',
            input: 'accessKeys',
            state: 'unread',
            call: 'iam:ListAccessKeys',
            reason: 'denied',
            code: 'AccessDenied',
          },
        ],
      });
      expect(run.run.complete).toBe(false);
      const decision = shouldAlert(run, settings);
      expect(decision.alert).toBe(true);
      expect(decision.reason).toContain('incomplete run: 1 source not read (access keys of bob)');
    });

    it('never alerts nor lists a muted FAIL', () => {
      const run = reconciledRun([
        finding({ change: 'new', status: 'FAIL', severity: 'critical', mute: MUTE, resource: user('breakglass') }),
      ]);
      const alert = buildAlert(run, settings);
      expect(alert.summary.new).toEqual([]);
      expect(alert.summary.counts.muted).toBe(1);
      expect(alert.email).not.toContain(user('breakglass'));
      expect(alert.email).toContain('Not listed: 1 muted');
      expect(alert.attributes.newCount!.StringValue).toBe('0');
      if (settings.alertOn !== 'always') expect(shouldAlert(run, settings).alert).toBe(false);
    });
  });

  it('does not list a resolved finding that was muted', () => {
    const run = reconciledRun([finding({ change: 'resolved', status: 'PASS', previousStatus: 'FAIL', mute: MUTE })]);
    expect(buildAlert(run, ALWAYS).summary.resolved).toEqual([]);
  });

  it('respects minAlertSeverity for FAIL findings', () => {
    const run = reconciledRun([
      finding({ change: 'new', status: 'FAIL', severity: 'medium', checkId: 'access-key-age', resource: `${user('a')}#access_key_1` }),
    ]);
    const high = { alertOn: 'new', minAlertSeverity: 'high' } as const;
    expect(shouldAlert(run, high).alert).toBe(false);
    expect(shouldAlert(run, high).reason).toContain('1 FAIL below high');
    expect(buildAlert(run, high).summary.counts.belowThreshold).toBe(1);
    expect(shouldAlert(run, { alertOn: 'new', minAlertSeverity: 'medium' }).alert).toBe(true);

    const withHigh = reconciledRun([...run.findings, finding({ change: 'new', status: 'FAIL', severity: 'high', resource: user('b') })]);
    expect(shouldAlert(withHigh, high).alert).toBe(true);
    expect(buildAlert(withHigh, high).summary.new.map((i) => i.severity)).toEqual(['high']);
  });

  it('does not alert on a WARN alone, new or regressed', () => {
    const run = reconciledRun([
      finding({ change: 'new', status: 'WARN', severity: 'medium', checkId: 'access-key-age', resource: `${user('a')}#access_key_1` }),
      finding({
        change: 'regressed',
        status: 'WARN',
        severity: 'low',
        checkId: 'elasticache-service-linked-role',
        resource: 'arn:aws:iam::123456789012:role/x',
      }),
    ]);
    expect(shouldAlert(run, NEW).alert).toBe(false);
    expect(shouldAlert(run, OPEN).alert).toBe(false);
    const alert = buildAlert(run, ALWAYS);
    expect(alert.summary.counts.warnings).toBe(2);
    expect(alert.summary.new).toEqual([]);
  });

  it('alertOn open alerts any open unmuted FAIL at or above the threshold', () => {
    const open = reconciledRun([
      finding({
        change: 'open',
        status: 'FAIL',
        severity: 'high',
        checkId: 'dax-service-role',
        resource: 'arn:aws:dax:eu-west-1:123456789012:cache/c',
      }),
    ]);
    expect(shouldAlert(open, OPEN)).toEqual({ alert: true, reason: '1 open FAIL finding at or above low' });
    expect(shouldAlert(open, { alertOn: 'open', minAlertSeverity: 'critical' }).alert).toBe(false);
    const muted = reconciledRun([finding({ change: 'open', status: 'FAIL', severity: 'high', mute: MUTE })]);
    expect(shouldAlert(muted, OPEN).alert).toBe(false);
    const onlyResolved = reconciledRun([finding({ change: 'resolved', status: 'PASS', previousStatus: 'FAIL' })]);
    expect(shouldAlert(onlyResolved, OPEN).alert).toBe(false);
  });

  it('alertOn always sends a digest of a clean run', () => {
    const clean = reconciledRun([finding({ change: 'unchanged', status: 'PASS' })]);
    expect(shouldAlert(clean, NEW).alert).toBe(false);
    expect(shouldAlert(clean, ALWAYS)).toEqual({ alert: true, reason: 'alertOn always: a digest of every run' });
    const alert = buildAlert(clean, ALWAYS);
    expect(alert.subject).toBe(`account-auditor ${ACCOUNT}: 0 new`);
    expect(alert.email).toContain('NEW (0)\n  none');
    expect(alert.email).toContain('CHECKS IN ERROR (0)\n  none: every check ran');
    expect(alert.attributes.highestSeverity!.StringValue).toBe('none');
    expect(alert.attributes.complete!.StringValue).toBe('true');
  });
});

describe('judged by what they were', () => {
  it('a finding resolved to PASS (now informational) is listed as resolved by its previous severity', () => {
    const run = reconciledRun([
      finding({ change: 'new', status: 'FAIL', severity: 'critical', resource: 'arn:aws:iam::123456789012:user/zoe' }),
      finding({
        change: 'resolved',
        status: 'PASS',
        severity: 'informational',
        previousStatus: 'FAIL',
        previousSeverity: 'medium',
        resource: 'arn:aws:iam::123456789012:user/legacy#access_key_1',
        checkId: 'access-key-age',
      }),
    ]);
    const alert = buildAlert(run, { alertOn: 'new', minAlertSeverity: 'medium' });
    expect(alert.summary.resolved.map((i) => i.resource)).toEqual(['arn:aws:iam::123456789012:user/legacy#access_key_1']);
    const high = buildAlert(run, { alertOn: 'new', minAlertSeverity: 'high' });
    expect(high.summary.resolved).toEqual([]);
  });

  it("the fix line uses the finding's own commands when the check gives them", () => {
    const run = reconciledRun([
      finding({
        change: 'new',
        status: 'FAIL',
        severity: 'critical',
        resource: 'arn:aws:iam::123456789012:user/bob',
        details: { commands: ['aws iam remove-user-from-group --user-name bob --group-name Operators'] },
      }),
    ]);
    const alert = buildAlert(run, { alertOn: 'new', minAlertSeverity: 'low' });
    expect(alert.summary.new[0]!.remediation).toBe('aws iam remove-user-from-group --user-name bob --group-name Operators');
    expect(alert.email).toContain('fix: aws iam remove-user-from-group --user-name bob --group-name Operators');
  });
});

describe('missingPermission', () => {
  const cases: { call: string; code?: string; reason: string; expected: string | null }[] = [
    ...LIVE_READ_ACTIONS.map((call) => ({
      call,
      code: 'AccessDenied',
      reason: `User: x is not authorized to perform: ${call}`,
      expected: call,
    })),
    { call: 'dax:DescribeClusters', code: 'AccessDeniedException', reason: 'denied', expected: 'dax:DescribeClusters' },
    {
      call: 'elasticache:DescribeCacheClusters',
      reason: 'User: x is not authorized to perform: elasticache:DescribeCacheClusters',
      expected: 'elasticache:DescribeCacheClusters',
    },
    {
      call: 'iam:GetAccountSummary',
      code: 'AccessDenied',
      reason: 'with an explicit deny in a service control policy',
      expected: 'iam:GetAccountSummary',
    },
    // Bad credentials are not a permission to grant.
    {
      call: 'iam:GetCredentialReport',
      code: 'ExpiredToken',
      reason: 'The security token included in the request is expired',
      expected: null,
    },
    {
      call: 'iam:GetCredentialReport',
      code: 'InvalidClientTokenId',
      reason: 'The security token included in the request is invalid',
      expected: null,
    },
    {
      call: 'dax:DescribeClusters',
      code: 'UnrecognizedClientException',
      reason: 'The security token included in the request is invalid',
      expected: null,
    },
    { call: 'iam:GetAccountSummary', code: 'Throttling', reason: 'Rate exceeded', expected: null },
    { call: 'iam:GenerateCredentialReport', reason: 'the credential report was still being generated after 60 s', expected: null },
    // Offline mode names files, not calls.
    { call: 'account-summary.json', code: 'AccessDenied', reason: 'EACCES', expected: null },
  ];
  it.each(cases)('$call $code: $expected', ({ call, code, reason, expected }) => {
    expect(missingPermission(call, code, reason)).toBe(expected);
  });
});
