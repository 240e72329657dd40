import type { MessageAttributeValue } from '@aws-sdk/client-sns';
import type { ReconciledFinding, ReconciledRun } from '#lib/reconcile/types.ts';
import { deniedPermissions } from '#lib/checks/inputs.ts';
import type { AlertSettings, Selection } from './select.ts';
import { countBySeverity, decide, highestSeverity, select } from './select.ts';
import type { AlertItem, AlertSummary, Limits, ListKey } from './format.ts';
import { clip, emailLines, FINDINGS_COMMAND, LIST_KEYS, renderEmail, renderSubject, sourceLine, toItem } from './format.ts';

export type { AlertSettings } from './select.ts';
export type { AlertItem, AlertSummary } from './format.ts';

/** SNS's limit for one message, attributes included. */
export const SNS_MAX_BYTES = 262_144;

/** `S`: the object serialized into `default` (the findings summary, or another kind's). */
export interface Alert<S = AlertSummary> {
  subject: string;
  /** The JSON string SNS delivers per protocol: `default` (the summary as JSON) and `email` (text). */
  message: string;
  messageStructure: 'json';
  /** For subscription filter policies (SNS allows at most 10). */
  attributes: Record<string, MessageAttributeValue>;
  /** The text email subscribers receive. */
  email: string;
  /** The object serialized into `default`. */
  summary: S;
}

/**
 * An alert as SNS takes it: `summary` as the JSON of every protocol's `default`, `email` as the
 * text email subscribers receive (messageStructure json).
 */
export function snsAlert<S>(parts: Pick<Alert<S>, 'subject' | 'attributes' | 'email' | 'summary'>): Alert<S> {
  const { subject, attributes, email, summary } = parts;
  return {
    subject,
    message: JSON.stringify({ default: JSON.stringify(summary), email }),
    messageStructure: 'json',
    attributes,
    email,
    summary,
  };
}

export interface BuildAlertOptions {
  /** Named in the alert as where the full list is. */
  tableName?: string;
  /** The limit to fit under; SNS's 256 KiB by default. */
  maxBytes?: number;
}

/** Whether the run is worth a message under these settings, and why. */
export function shouldAlert(run: ReconciledRun, settings: AlertSettings): { alert: boolean; reason: string } {
  return decide(run, select(run, settings), settings);
}

/**
 * Per-field caps: every list is cut by the size search below, but one absurd string (a reason
 * carrying a whole stack trace) must not crowd out everything else. The compact set is the
 * fallback when even empty lists do not fit a small `maxBytes`.
 */
const NORMAL: Limits = { text: 500, reasons: 10, sources: 25 };
const COMPACT: Limits = { text: 160, reasons: 1, sources: 3 };

export function stringAttribute(value: string): MessageAttributeValue {
  // SNS rejects an empty String attribute.
  return { DataType: 'String', StringValue: value || 'unknown' };
}

export function numberAttribute(value: number): MessageAttributeValue {
  return { DataType: 'Number', StringValue: String(value) };
}

/** What message attributes add to SNS's size accounting: names, types and values, in UTF-8. */
export function attributeBytes(attributes: Record<string, MessageAttributeValue>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(attributes)) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? '');
  }
  return bytes;
}

/**
 * Items and email lines in order of urgency (new, regressed, still open, resolved), rendered on
 * demand: a 60,000-finding run only pays for the few hundred that fit.
 */
class Prepared {
  readonly items: Record<ListKey, AlertItem[]> = { new: [], regressed: [], stillOpen: [], resolved: [] };
  readonly lines: Record<ListKey, string[]> = { new: [], regressed: [], stillOpen: [], resolved: [] };
  readonly total: number;

  constructor(
    private readonly selection: Selection,
    private readonly limits: Limits,
  ) {
    this.total = LIST_KEYS.reduce((sum, key) => sum + selection[key].length, 0);
  }

  /** How many of each list the first `n` findings take, rendering any not rendered yet. */
  take(n: number): Record<ListKey, number> {
    const shown = {} as Record<ListKey, number>;
    let left = n;
    for (const key of LIST_KEYS) {
      const list: readonly ReconciledFinding[] = this.selection[key];
      shown[key] = Math.min(left, list.length);
      left -= shown[key];
      for (let i = this.items[key].length; i < shown[key]; i += 1) {
        const item = toItem(list[i]!, this.limits);
        this.items[key].push(item);
        this.lines[key].push(emailLines(item, key));
      }
    }
    return shown;
  }

  /** The `index`-th finding in order of urgency, rendered. */
  at(index: number): { item: AlertItem; line: string } {
    let i = index;
    for (const key of LIST_KEYS) {
      if (i < this.selection[key].length) {
        if (this.items[key].length <= i) this.take(index + 1);
        return { item: this.items[key][i]!, line: this.lines[key][i]! };
      }
      i -= this.selection[key].length;
    }
    throw new RangeError(`no finding at ${index}`);
  }
}

/**
 * What one more finding adds to the serialized message: its item inside `default` (a JSON string
 * escaped once more inside the message), its email line, and their separators.
 */
function marginalBytes(entry: { item: AlertItem; line: string }): number {
  const item = Buffer.byteLength(JSON.stringify(JSON.stringify(entry.item))) - 2 + 1; // without its quotes, plus a comma
  const line = Buffer.byteLength(JSON.stringify(entry.line)) - 2 + 2; // plus its newline, escaped as \n
  return item + line;
}

/**
 * Builds the alert for a run: subject, the JSON message with `default` and `email`, attributes.
 * It builds whatever `shouldAlert` says (the caller decides whether to publish), and always fits
 * SNS's size limit: lists are cut, most urgent kept, and the cut is counted and pointed to.
 */
export function buildAlert(run: ReconciledRun, settings: AlertSettings, options: BuildAlertOptions = {}): Alert {
  const maxBytes = options.maxBytes ?? SNS_MAX_BYTES;
  // SNS's own accounting of a JSON-structured message is not documented to the byte: keep a margin.
  const budget = maxBytes - Math.min(4096, Math.floor(maxBytes * 0.02));
  const table = options.tableName ?? null;
  const { run: record } = run;
  const selection = select(run, settings);
  const decision = decide(run, selection, settings);
  const newlyFailing = [...selection.new, ...selection.regressed];
  const open = newlyFailing.length + selection.stillOpen.length;
  const highest = highestSeverity(run, selection, settings);

  const attributes: Record<string, MessageAttributeValue> = {
    alertType: stringAttribute('findings'),
    accountId: stringAttribute(record.accountId),
    highestSeverity: stringAttribute(highest),
    newCount: numberAttribute(newlyFailing.length),
    regressedCount: numberAttribute(selection.regressed.length),
    openCount: numberAttribute(open),
    resolvedCount: numberAttribute(selection.resolved.length),
    errorChecks: numberAttribute(record.checksInError.length),
    complete: stringAttribute(String(record.complete)),
    alertOn: stringAttribute(settings.alertOn),
  };
  const fixedBytes = attributeBytes(attributes);

  const compose = (prepared: Prepared, limits: Limits, n: number): Alert => {
    const shown = prepared.take(n);
    const omitted = {
      new: selection.new.length - shown.new,
      regressed: selection.regressed.length - shown.regressed,
      stillOpen: selection.stillOpen.length - shown.stillOpen,
      resolved: selection.resolved.length - shown.resolved,
      reasons: 0,
      unreadSources: Math.max(0, selection.unreadSources.length - limits.sources),
    };
    const checksInError = record.checksInError.map((c) => {
      const more = Math.max(0, c.reasons.length - limits.reasons);
      omitted.reasons += more;
      return {
        checkId: c.checkId,
        reasons: c.reasons.slice(0, limits.reasons).map((r) => clip(r, limits.text)),
        moreReasons: more,
        missingPermissions: (c.missingPermissions ?? deniedPermissions(record.sources, c.checkId)).map((p) => clip(p, limits.text)),
      };
    });
    const summary: AlertSummary = {
      source: 'account-auditor',
      schemaVersion: 1,
      kind: 'findings',
      accountId: record.accountId,
      runId: record.runId,
      trigger: record.trigger,
      origin: clip(record.origin, limits.text),
      collectedAt: record.collectedAt,
      complete: record.complete,
      alertOn: settings.alertOn,
      minAlertSeverity: settings.minAlertSeverity,
      alert: decision.alert,
      reason: decision.reason,
      highestSeverity: highest,
      counts: {
        newlyFailing: newlyFailing.length,
        newlyFailingBySeverity: countBySeverity(newlyFailing),
        new: selection.new.length,
        regressed: selection.regressed.length,
        stillOpen: selection.stillOpen.length,
        open,
        resolved: selection.resolved.length,
        errorChecks: record.checksInError.length,
        unreadSources: selection.unreadSources.length,
        muted: selection.muted,
        warnings: selection.warnings,
        belowThreshold: selection.belowThreshold,
        byStatus: record.counts.byStatus,
        failBySeverity: record.counts.failBySeverity,
      },
      new: prepared.items.new.slice(0, shown.new),
      regressed: prepared.items.regressed.slice(0, shown.regressed),
      stillOpen: prepared.items.stillOpen.slice(0, shown.stillOpen),
      resolved: prepared.items.resolved.slice(0, shown.resolved),
      checksInError,
      missingPermissions: (record.missingPermissions ?? deniedPermissions(record.sources)).map((p) => clip(p, limits.text)),
      unreadSources: selection.unreadSources.slice(0, limits.sources).map((s) => sourceLine(s, limits, record.checks)),
      truncated: omitted.new + omitted.regressed + omitted.stillOpen + omitted.resolved,
      omitted,
      fullList: { table, command: FINDINGS_COMMAND },
    };
    const email = renderEmail(summary, {
      new: prepared.lines.new.slice(0, shown.new),
      regressed: prepared.lines.regressed.slice(0, shown.regressed),
      stillOpen: prepared.lines.stillOpen.slice(0, shown.stillOpen),
      resolved: prepared.lines.resolved.slice(0, shown.resolved),
    });
    return snsAlert({ subject: renderSubject(summary), attributes, email, summary });
  };
  const size = (alert: Alert): number => Buffer.byteLength(alert.message) + Buffer.byteLength(alert.subject) + fixedBytes;

  let smallest: Alert | null = null;
  for (const limits of [NORMAL, COMPACT]) {
    const prepared = new Prepared(selection, limits);
    const empty = compose(prepared, limits, 0);
    smallest = empty;
    const room = budget - size(empty);
    if (room < 0) continue;
    // Estimate how many fit by adding each finding's bytes (one pass over those that fit, not a
    // serialization per finding), then confirm on the real serialization.
    let n = 0;
    let used = 0;
    while (n < prepared.total) {
      const cost = marginalBytes(prepared.at(n));
      if (used + cost > room) break;
      used += cost;
      n += 1;
    }
    const estimated = compose(prepared, limits, n);
    if (size(estimated) <= budget) return estimated;
    // The estimate missed the section headers' and "and N more" lines' few bytes: search below it.
    let fits = 0;
    let best = empty;
    let tooMany = n;
    while (tooMany - fits > 1) {
      const mid = Math.floor((fits + tooMany) / 2);
      const candidate = compose(prepared, limits, mid);
      if (size(candidate) <= budget) {
        fits = mid;
        best = candidate;
      } else {
        tooMany = mid;
      }
    }
    return best;
  }
  // Only a caller's tiny maxBytes gets here; the real limit always fits the compact form.
  return smallest!;
}
