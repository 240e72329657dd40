import {
  GenerateCredentialReportCommand,
  GetCredentialReportCommand,
  type GetCredentialReportResponse,
  IAMClient,
} from '@aws-sdk/client-iam';
import { errorCodes, failure, hasCode } from '../../calls.ts';
import type { LiveContext } from '../../definition.ts';
import { unreadSource } from '../../failure.ts';
import { dateProblem } from '../../integrity.ts';
import type { CredentialReport, Source, Unread } from '../../types.ts';
import { parseCredentialReport } from './normalize.ts';

/**
 * Credential report calls per run, and why so few: SPEC section 2 budgets the IAM calls of a run
 * whatever the account's size, at 12 plus the key lookups for a 5,000-user account (1
 * GetAccountSummary + at most 5 report calls + 6 GetAccountAuthorizationDetails pages). So at most
 * MAX_GENERATE_REPORT_CALLS GenerateCredentialReport calls (the first and 3 polls, a re-generation
 * after ReportNotPresent/ReportExpired included), and at most MAX_REPORT_CALLS report calls in all
 * (GetCredentialReport, and its retries after ReportInProgress, included). A backoff that doubles
 * from a short first wait would spend ~16 calls over a 60 s bound instead.
 */
export const MAX_GENERATE_REPORT_CALLS = 4;
export const MAX_REPORT_CALLS = MAX_GENERATE_REPORT_CALLS + 1;

/**
 * The waits between report calls, as shares of `reportWaitSeconds`: one per poll, each
 * twice the one before, adding up to the whole bound (1/7, 2/7, 4/7 for 3 polls). Polls come
 * sooner at first, when a small account's report is usually ready, and the bound is used in full.
 */
export const REPORT_WAIT_SHARES: readonly number[] = Array.from(
  { length: MAX_GENERATE_REPORT_CALLS - 1 },
  (_, i) => 2 ** i / (2 ** (MAX_GENERATE_REPORT_CALLS - 1) - 1),
);

/** The waits in milliseconds for a bound, rounded so that they add up to the bound exactly. */
export function reportWaitsMs(boundMs: number): number[] {
  let cumulative = 0;
  let before = 0;
  return REPORT_WAIT_SHARES.map((share) => {
    cumulative += share;
    const until = Math.round(boundMs * Math.min(cumulative, 1));
    const wait = until - before;
    before = until;
    return wait;
  });
}

const REPORT_IN_PROGRESS = ['ReportInProgress', 'CredentialReportNotReadyException'];
const REPORT_GONE = ['ReportNotPresent', 'CredentialReportNotPresentException', 'ReportExpired', 'CredentialReportExpiredException'];

/**
 * Tracks the report wait against its bound. Time slept is counted as it was asked for, so an
 * injected sleep makes the bound deterministic; the wall clock also counts, so slow calls cannot
 * stretch the wait past the bound either.
 */
function waitClock(sleep: (ms: number) => Promise<void>) {
  const started = performance.now();
  let slept = 0;
  return {
    elapsed: () => Math.max(slept, performance.now() - started),
    async sleep(ms: number) {
      slept += ms;
      await sleep(ms);
    },
  };
}

/** The report's content is not a credential report: empty, not UTF-8, or not the expected CSV. */
const REPORT_FORMAT_CODE = 'CredentialReportFormatError';

function parseReport(out: GetCredentialReportResponse, notAfter: number): Source<CredentialReport> {
  const call = 'iam:GetCredentialReport';
  if (!out.Content || out.Content.length === 0) return unreadSource(call, 'GetCredentialReport returned no content', REPORT_FORMAT_CODE);
  let csv: string;
  try {
    // fatal: a report with broken bytes must fail loudly rather than parse with replacement characters.
    csv = new TextDecoder('utf-8', { fatal: true }).decode(out.Content);
  } catch (error) {
    return unreadSource(call, `the credential report cannot be decoded as UTF-8 text: ${(error as Error).message}`, REPORT_FORMAT_CODE);
  }
  let generated: string | null = null;
  if (out.GeneratedTime !== undefined) {
    const problem = out.GeneratedTime instanceof Date ? dateProblem(out.GeneratedTime, notAfter) : 'is not a date';
    if (problem) return unreadSource(call, `GetCredentialReport: GeneratedTime ${problem}`, REPORT_FORMAT_CODE);
    generated = (out.GeneratedTime as Date).toISOString();
  }
  try {
    return { state: 'read', data: parseCredentialReport(csv, generated, { notAfter }) };
  } catch (error) {
    return failure(call, error);
  }
}

/**
 * GenerateCredentialReport until COMPLETE, then GetCredentialReport, within `reportWaitSeconds`
 * and within MAX_REPORT_CALLS calls (MAX_GENERATE_REPORT_CALLS of them Generate): the waits follow
 * REPORT_WAIT_SHARES, and a call is made only when the budget leaves room for it (a Generate only
 * when a Get can still follow). A report that vanished or expired between the two calls is
 * generated again, once: a second disappearance means something else is wrong, and looping would
 * hide it.
 */
export async function read(ctx: LiveContext): Promise<Source<CredentialReport>> {
  const iam = ctx.client(IAMClient);
  const boundMs = ctx.options.reportWaitSeconds * 1000;
  const clock = waitClock(ctx.sleep);
  const waits = reportWaitsMs(boundMs);
  let calls = 0;
  let generates = 0;
  const canGenerate = (): boolean => generates < MAX_GENERATE_REPORT_CALLS && calls + 2 <= MAX_REPORT_CALLS;
  const canGet = (): boolean => calls < MAX_REPORT_CALLS;
  const stillGenerating = (call: string, outOfCalls: boolean): Unread =>
    unreadSource(
      call,
      outOfCalls
        ? `the credential report was still being generated after ${calls} report calls in ${Math.round(clock.elapsed() / 1000)} s ` +
            `(at most ${MAX_REPORT_CALLS} per run, to spare IAM's rate limit); run again in a minute`
        : `the credential report was still being generated after ${ctx.options.reportWaitSeconds} s (reportWaitSeconds); run again in a minute or raise reportWaitSeconds`,
      // IAM's own code for a report not ready yet, so the finding's title names why.
      'ReportInProgress',
    );
  /**
   * Waits before the next call, when both the bound and the call budget allow one; otherwise says
   * why not, without sleeping for a call that will not be made.
   */
  const backoff = async (call: string, nextAllowed: boolean): Promise<Unread | null> => {
    const remaining = boundMs - clock.elapsed();
    if (waits.length === 0 || remaining <= 0) return stillGenerating(call, false);
    if (!nextAllowed) return stillGenerating(call, true);
    await clock.sleep(Math.min(waits.shift()!, remaining));
    return null;
  };

  ctx.progress('generating the IAM credential report…');
  let regenerated = false;
  let phase: 'generate' | 'get' = 'generate';
  try {
    for (;;) {
      if (phase === 'generate') {
        let state: string | undefined;
        calls++;
        generates++;
        try {
          state = (await ctx.budgeted(() => iam.send(new GenerateCredentialReportCommand({}), ctx.http))).State;
        } catch (error) {
          return failure('iam:GenerateCredentialReport', error);
        }
        if (state === 'COMPLETE') {
          phase = 'get';
          continue;
        }
        const stop = await backoff('iam:GenerateCredentialReport', canGenerate());
        if (stop) return stop;
        ctx.progress(`the IAM credential report is still being generated (${Math.round(clock.elapsed() / 1000)} s)…`);
        continue;
      }
      try {
        calls++;
        const out = await ctx.budgeted(() => iam.send(new GetCredentialReportCommand({}), ctx.http));
        return parseReport(out, ctx.notAfter());
      } catch (error) {
        if (hasCode(error, ...REPORT_IN_PROGRESS)) {
          const stop = await backoff('iam:GetCredentialReport', canGet());
          if (stop) return stop;
          ctx.progress(`waiting for the IAM credential report (${Math.round(clock.elapsed() / 1000)} s)…`);
          continue;
        }
        if (hasCode(error, ...REPORT_GONE) && !regenerated && clock.elapsed() < boundMs && canGenerate()) {
          regenerated = true;
          phase = 'generate';
          ctx.progress(`the IAM credential report was not available (${errorCodes(error).at(-1) ?? 'gone'}); generating it again…`);
          continue;
        }
        return failure('iam:GetCredentialReport', error);
      }
    }
  } catch (error) {
    // The wait between calls ran out of time budget: the report is unread for the call it awaited.
    return failure(phase === 'generate' ? 'iam:GenerateCredentialReport' : 'iam:GetCredentialReport', error);
  }
}
