import { randomBytes } from 'node:crypto';
import type { Inventory, Source } from '#lib/inventory/types.ts';
import type { Settings } from '#lib/settings.ts';
import type { Check, Finding, Severity, Status } from '#lib/checks/types.ts';
import { makeFinding, rootArn, SEVERITIES, severityRank, STATUSES } from '#lib/checks/types.ts';
import { selectChecks } from '#lib/checks/index.ts';
import type { CheckId } from '#lib/checks/ids.ts';
import { CHECK_INPUTS, inputsOf, type InventoryInput } from '#lib/checks/inputs.ts';

export type Trigger = 'schedule' | 'on-demand' | 'local';

export interface SourceReport {
  source: string;
  input: InventoryInput;
  state: 'read' | 'unread';
  call?: string;
  reason?: string;
  code?: string;
}

export interface CheckOutcome {
  checkId: CheckId;
  findings: number;
  byStatus: Record<Status, number>;
  /** Reasons of the check's ERROR findings: a check in ERROR resolves nothing downstream. */
  errors: string[];
}

export interface RunSummary {
  runId: string;
  accountId: string;
  partition: string;
  trigger: Trigger;
  origin: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  collectedAt: string;
  /** True when every source the selected checks read was read and no check ended in ERROR. */
  complete: boolean;
  checks: CheckId[];
  /** Regions audited: a regional finding outside them is out of this run's scope, not resolved. */
  regions: string[];
  counts: {
    total: number;
    byStatus: Record<Status, number>;
    /** FAIL findings by severity: what the exit code and alerts are about. */
    failBySeverity: Record<Severity, number>;
  };
  /**
   * `missingPermissions`: the IAM actions denied to the sources this check reads (absent in run
   * records written before it existed). `reasonsOmitted`: reasons left out of a stored run record
   * that had to fit DynamoDB's item size limit.
   */
  checksInError: { checkId: CheckId; reasons: string[]; missingPermissions?: string[]; reasonsOmitted?: number }[];
  sources: SourceReport[];
  /** Sources left out of a stored run record that had to fit DynamoDB's item size limit. */
  sourcesOmitted?: number;
  /**
   * Every IAM action a source was denied (`iam:GetAccountAuthorizationDetails`), sorted: what to
   * allow the auditor's role. Other failures (throttling, a missing file) are not permissions and
   * stay in `sources`. Absent in run records written before it existed.
   */
  missingPermissions?: string[];
}

export interface AuditResult {
  run: RunSummary;
  findings: Finding[];
  outcomes: CheckOutcome[];
}

function zeroByStatus(): Record<Status, number> {
  return Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
}

/**
 * Runs the checks on an inventory. A check that throws is a bug, but it must not silence the
 * others nor pass for compliant: it becomes one ERROR finding naming the exception.
 */
export function evaluateChecks(inventory: Inventory, settings: Settings, checks: readonly Check[]): { findings: Finding[]; outcomes: CheckOutcome[] } {
  const findings: Finding[] = [];
  const outcomes: CheckOutcome[] = [];
  for (const check of checks) {
    let produced: Finding[];
    try {
      produced = check.evaluate(inventory, settings);
    } catch (error) {
      produced = [
        makeFinding(inventory, check.id, {
          resource: rootArn(inventory),
          status: 'ERROR',
          severity: check.severity,
          title: `the check failed unexpectedly: ${(error as Error).message}`,
          details: { exception: String((error as Error).stack ?? error) },
        }),
      ];
    }
    const byStatus = zeroByStatus();
    for (const f of produced) byStatus[f.status] += 1;
    outcomes.push({
      checkId: check.id,
      findings: produced.length,
      byStatus,
      errors: produced.filter((f) => f.status === 'ERROR').map((f) => `${f.resource}: ${f.title}`),
    });
    findings.push(...produced);
  }
  return { findings, outcomes };
}

/** Every Source of the inventory, flattened, to tell the reader what was and was not read. */
export function describeSources(inventory: Inventory): SourceReport[] {
  const entry = (source: string, input: InventoryInput, s: Source<unknown>): SourceReport =>
    s.state === 'read'
      ? { source, input, state: 'read' }
      : { source, input, state: 'unread', call: s.call, reason: s.reason, ...(s.code ? { code: s.code } : {}) };
  return [
    entry('account summary', 'accountSummary', inventory.accountSummary),
    entry('credential report', 'credentialReport', inventory.credentialReport),
    entry('authorization details', 'authorizationDetails', inventory.authorizationDetails),
    ...inventory.regions.flatMap((r) => [entry(`elasticache ${r.region}`, 'elastiCache', r.elastiCache), entry(`dax ${r.region}`, 'dax', r.dax)]),
    ...Object.entries(inventory.accessKeys).map(([user, s]) => entry(`access keys of ${user}`, 'accessKeys', s)),
  ];
}

/**
 * Error codes of a denied call: IAM's AccessDenied, JSON services' AccessDeniedException, EC2-style
 * UnauthorizedOperation. Bad or expired credentials (InvalidClientTokenId, ExpiredToken) are not a
 * missing permission: naming one would send the reader to fix the wrong thing.
 */
const DENIED_CODE = /AccessDenied|Unauthorized|NotAuthorized|Forbidden/i;
const DENIED_REASON = /not authorized to perform|AccessDenied|explicit deny/i;
const CREDENTIAL_CODE = /InvalidClientTokenId|ExpiredToken|UnrecognizedClient|InvalidSignature|SignatureDoesNotMatch|CredentialsProviderError/i;
/** `service:Action`: the collectors name each call by the IAM action it needs (LIVE_READ_ACTIONS). */
const IAM_ACTION = /^[a-z0-9-]+:[A-Za-z0-9]+$/;

/**
 * The IAM action to allow when `call` was denied: the live collectors name every call by its IAM
 * action (`iam:GetCredentialReport`), so the call is the permission. null when the failure is not
 * a denial (throttling, a network error, bad credentials) or the call is a file (offline mode).
 */
export function missingPermission(call: string, code: string | undefined, reason: string): string | null {
  if (!IAM_ACTION.test(call)) return null;
  if (code && CREDENTIAL_CODE.test(code)) return null;
  return DENIED_CODE.test(code ?? '') || DENIED_REASON.test(reason) ? call : null;
}

/** The checks among `checks` that read this part of the inventory. */
export function checksReading(input: InventoryInput, checks: readonly CheckId[]): CheckId[] {
  return checks.filter((c) => CHECK_INPUTS[c].includes(input));
}

/** The distinct permissions the unread sources were denied, sorted; only those `checkId` reads when given. */
export function deniedPermissions(sources: readonly SourceReport[], checkId?: CheckId): string[] {
  const inputs = checkId ? new Set<InventoryInput>(CHECK_INPUTS[checkId]) : null;
  const found = new Set<string>();
  for (const s of sources) {
    if (s.state !== 'unread' || (inputs && !inputs.has(s.input))) continue;
    const permission = missingPermission(s.call ?? '', s.code, s.reason ?? '');
    if (permission) found.add(permission);
  }
  return [...found].sort();
}

/** Sortable and unique: time first, so runs list in order; random suffix, so overlapping runs differ. */
export function newRunId(at: Date): string {
  return `${at.toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`;
}

export interface RunAuditOptions {
  /** Produces the inventory: live APIs, exported files or the demo account. */
  collect: () => Promise<Inventory>;
  settings: Settings;
  trigger: Trigger;
  now?: () => Date;
}

/** The whole audit: collect, evaluate, summarize. Handlers and the command line are shells around it. */
export async function runAudit(options: RunAuditOptions): Promise<AuditResult> {
  const now = options.now ?? (() => new Date());
  const started = now();
  const inventory = await options.collect();
  const checks = selectChecks(options.settings.checks);
  const { findings, outcomes } = evaluateChecks(inventory, options.settings, checks);
  const ended = now();

  const byStatus = zeroByStatus();
  const failBySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) {
    byStatus[f.status] += 1;
    if (f.status === 'FAIL') failBySeverity[f.severity] += 1;
  }
  // Only the sources the selected checks read count: an unrelated failure does not make a narrowed run incomplete.
  const needed = inputsOf(checks.map((c) => c.id));
  const sources = describeSources(inventory).filter((src) => needed.has(src.input));
  const checksInError = outcomes
    .filter((o) => o.errors.length > 0)
    .map((o) => ({ checkId: o.checkId, reasons: o.errors, missingPermissions: deniedPermissions(sources, o.checkId) }));
  return {
    run: {
      runId: newRunId(started),
      accountId: inventory.accountId,
      partition: inventory.partition,
      trigger: options.trigger,
      origin: inventory.origin,
      startedAt: started.toISOString(),
      endedAt: ended.toISOString(),
      durationMs: ended.getTime() - started.getTime(),
      collectedAt: inventory.collectedAt,
      complete: checksInError.length === 0 && sources.every((src) => src.state === 'read'),
      checks: checks.map((c) => c.id),
      regions: inventory.regions.map((r) => r.region),
      counts: { total: findings.length, byStatus, failBySeverity },
      checksInError,
      sources,
      missingPermissions: deniedPermissions(sources),
    },
    findings,
    outcomes,
  };
}

/**
 * 2 when the audit is incomplete (an ERROR finding, or a source that could not be read even if
 * no status depended on it), 1 on a FAIL at or above the threshold, else 0.
 */
export function exitCodeFor(result: Pick<AuditResult, 'findings' | 'run'>, failOn: Severity | 'none'): 0 | 1 | 2 {
  const { findings, run } = result;
  if (!run.complete || findings.some((f) => f.status === 'ERROR')) return 2;
  if (failOn === 'none') return 0;
  const threshold = severityRank(failOn);
  return findings.some((f) => f.status === 'FAIL' && severityRank(f.severity) >= threshold) ? 1 : 0;
}
