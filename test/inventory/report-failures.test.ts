/**
 * Every way the credential report can fail to arrive, through the SDK boundary (so that a fault
 * the SDK retries, like LimitExceeded, is retried as in production): the checks that need the
 * report say ERROR with the reason, the others keep their real verdicts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GenerateCredentialReportCommand, GetCredentialReportCommand } from '@aws-sdk/client-iam';
import { ALL_CHECKS } from '#test/checks.ts';
import { MAX_GENERATE_REPORT_CALLS, MAX_REPORT_CALLS } from '#lib/inventory/sources/credential-report/live.ts';
import type { SettingsInput } from '#lib/settings.ts';
import { CredentialReportFormatError, parseCredentialReport } from '#lib/inventory/sources/credential-report/normalize.ts';
import { credentialReportCsv, credentialReportResponse, FIXTURE_ACCOUNT_ID, iamError, rootReportRow } from '#test/aws.ts';
import { iam, resetAws } from '#test/mock-aws.ts';
import { auditThroughSdk, SDK_REGION, sources } from '#test/sdk-boundary.ts';
import { serveSmallAccount } from '#test/small-account.ts';

beforeEach(() => {
  resetAws(SDK_REGION);
  serveSmallAccount(SDK_REGION);
});

afterEach(() => {
  vi.unstubAllEnvs();
});

/** A report whose last bytes are broken: it must fail, not parse with replacement characters. */
function brokenUtf8(): Uint8Array {
  const bytes = new TextEncoder().encode(credentialReportCsv([rootReportRow()]));
  bytes[bytes.length - 5] = 0xff;
  return bytes;
}

const NOT_A_REPORT = 'this,is\nnot,a credential report\n';

/** What the parser says about `csv`, which must not parse. */
function parserMessage(csv: string): string {
  try {
    parseCredentialReport(csv, null);
  } catch (error) {
    if (error instanceof CredentialReportFormatError) return error.message;
  }
  throw new Error('expected the report not to parse');
}

interface ReportCase {
  name: string;
  script: () => void;
  settings?: SettingsInput;
  /** The call the report is unread for, its code, and words of its reason. */
  call: 'iam:GenerateCredentialReport' | 'iam:GetCredentialReport';
  code: string;
  reason: string;
  /** The collector's report calls in order (G: Generate, R: GetCredentialReport), whatever the SDK's retries. */
  calls: string;
  /** SDK attempts of each of those calls, when not 1. */
  attempts?: number;
}

const CASES: ReportCase[] = [
  {
    name: 'Generate says STARTED, then INPROGRESS past reportWaitSeconds',
    script: () => iam.on(GenerateCredentialReportCommand).resolvesOnce({ State: 'STARTED' }).resolves({ State: 'INPROGRESS' }),
    settings: { reportWaitSeconds: 20 },
    call: 'iam:GenerateCredentialReport',
    code: 'ReportInProgress',
    reason: 'still being generated after 20 s (reportWaitSeconds)',
    calls: 'GGGG',
  },
  {
    name: 'GetCredentialReport says ReportInProgress past reportWaitSeconds',
    script: () => iam.on(GetCredentialReportCommand).rejects(iamError('ReportInProgress', 'Report is in progress')),
    call: 'iam:GetCredentialReport',
    code: 'ReportInProgress',
    reason: 'still being generated after 60 s (reportWaitSeconds)',
    calls: 'GRRRR',
  },
  {
    name: 'ReportNotPresent on GetCredentialReport, again after generating it again',
    script: () => iam.on(GetCredentialReportCommand).rejects(iamError('ReportNotPresent', 'The credential report does not exist')),
    call: 'iam:GetCredentialReport',
    code: 'ReportNotPresent',
    reason: 'The credential report does not exist',
    calls: 'GRGR',
  },
  {
    name: 'ReportExpired on GetCredentialReport, again after generating it again',
    script: () => iam.on(GetCredentialReportCommand).rejects(iamError('ReportExpired', 'The report has expired')),
    call: 'iam:GetCredentialReport',
    code: 'ReportExpired',
    reason: 'The report has expired',
    calls: 'GRGR',
  },
  {
    // LimitExceededException is a throttling code to the SDK: retried, then given up.
    name: 'LimitExceeded on GenerateCredentialReport',
    script: () => iam.on(GenerateCredentialReportCommand).rejects(iamError('LimitExceeded', 'Rate exceeded')),
    call: 'iam:GenerateCredentialReport',
    code: 'LimitExceeded',
    reason: 'Rate exceeded (gave up after 3 attempts)',
    calls: 'G',
    attempts: 3,
  },
  {
    name: 'content that is not UTF-8',
    script: () => iam.on(GetCredentialReportCommand).resolves(credentialReportResponse(brokenUtf8())),
    call: 'iam:GetCredentialReport',
    code: 'CredentialReportFormatError',
    reason: 'the credential report cannot be decoded as UTF-8 text',
    calls: 'GR',
  },
  {
    name: 'content that is not a credential report',
    script: () => iam.on(GetCredentialReportCommand).resolves(credentialReportResponse(NOT_A_REPORT)),
    call: 'iam:GetCredentialReport',
    code: 'CredentialReportFormatError',
    reason: parserMessage(NOT_A_REPORT),
    calls: 'GR',
  },
  {
    name: 'empty content',
    script: () => iam.on(GetCredentialReportCommand).resolves(credentialReportResponse('')),
    call: 'iam:GetCredentialReport',
    code: 'CredentialReportFormatError',
    reason: 'GetCredentialReport returned no content',
    calls: 'GR',
  },
];

describe('the credential report cannot be read', () => {
  it.each(CASES)(
    '$name: ERROR on exactly the checks that need it, the others unchanged',
    async ({ script, settings, call, code, reason, calls, attempts = 1 }) => {
      const clean = await auditThroughSdk(settings);
      iam.resetHistory();
      script();
      const run = await auditThroughSdk(settings);
      const inv = run.inventory;

      // The source: unread, naming the call, the code and the reason.
      expect(inv.credentialReport).toMatchObject({ state: 'unread', call, code });
      const source = inv.credentialReport.state === 'unread' ? inv.credentialReport : null;
      expect(source!.reason).toContain(reason);

      // Within the report's budgets; nothing looked up without a report; every other source read.
      const reportCalls = run.calls.filter((c) => c.command === 'GenerateCredentialReport' || c.command === 'GetCredentialReport');
      expect(reportCalls.map((c) => (c.command === 'GenerateCredentialReport' ? 'G' : 'R')).join('')).toBe(calls);
      expect(reportCalls.every((c) => c.attempts === attempts)).toBe(true);
      expect(reportCalls.length).toBeLessThanOrEqual(MAX_REPORT_CALLS);
      expect(reportCalls.filter((c) => c.command === 'GenerateCredentialReport').length).toBeLessThanOrEqual(MAX_GENERATE_REPORT_CALLS);
      expect(run.waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual((settings?.reportWaitSeconds ?? 60) * 1000);
      expect(run.calls.some((c) => c.command === 'ListAccessKeys')).toBe(false);
      expect(inv.accessKeys).toEqual({});
      expect(sources(inv).filter(([name, s]) => name !== 'credentialReport' && s.state !== 'read')).toEqual([]);

      // access-key-age needs the report: one ERROR for every user, the reason in its details.
      const ages = run.findings.filter((f) => f.checkId === 'access-key-age');
      expect(ages).toEqual([
        expect.objectContaining({
          status: 'ERROR',
          resource: `arn:aws:iam::${FIXTURE_ACCOUNT_ID}:user/*`,
          title: `could not be evaluated: ${call} failed (${code})`,
          details: { call, reason: source!.reason, code },
        }),
      ]);
      // root-access-key reads the real-time summary first: its verdict stands, and it says the report is missing.
      const root = run.findings.filter((f) => f.checkId === 'root-access-key');
      const cleanRoot = clean.findings.filter((f) => f.checkId === 'root-access-key');
      expect(root.map((f) => f.status)).toEqual(cleanRoot.map((f) => f.status));
      expect(root[0]!.details.reportUnread).toEqual({ call, reason: source!.reason, code });
      // The checks that do not read the report: exactly the clean run's findings.
      for (const check of ALL_CHECKS.filter((c) => c.id !== 'access-key-age' && c.id !== 'root-access-key')) {
        expect(
          run.findings.filter((f) => f.checkId === check.id),
          check.id,
        ).toEqual(clean.findings.filter((f) => f.checkId === check.id));
      }
    },
  );
});
