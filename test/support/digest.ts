import type { Severity, Status } from '#lib/model/finding.ts';
import { SEVERITIES } from '#lib/model/finding.ts';
import type { AccountSection } from '#lib/notify/digest.ts';
import type { AlertItem, ListKey } from '#lib/notify/format.ts';

/** A section as sectionFromRun would store it, built directly: `items` per list, all shown. */
export function section(
  id: string,
  options: {
    state?: AccountSection['state'];
    items?: Partial<Record<ListKey, number>>;
    severity?: Severity;
    alert?: boolean;
    title?: string;
    reason?: string;
  } = {},
): AccountSection {
  const severity = options.severity ?? 'high';
  const state = options.state ?? 'complete';
  const item = (key: ListKey, i: number): AlertItem => {
    const status: Status = key === 'resolved' ? 'PASS' : 'FAIL';
    const resource = `arn:aws:iam::${id}:user/${key}-${i}`;
    return {
      id: `${id}#user-full-access#${resource}`,
      checkId: 'user-full-access',
      resource,
      status,
      severity,
      title: options.title ?? `full access through policy AdministratorAccess (${key} ${i})`,
      remediation: key === 'resolved' ? null : `aws iam detach-user-policy --user-name ${key}-${i}`,
      firstSeen: '2026-11-01T03:00:00.000Z',
      previousStatus: key === 'new' ? null : key === 'resolved' ? 'FAIL' : 'PASS',
    };
  };
  const lists = { new: [], regressed: [], stillOpen: [], resolved: [] } as Record<ListKey, AlertItem[]>;
  for (const key of ['new', 'regressed', 'stillOpen', 'resolved'] as const) {
    for (let i = 0; i < (options.items?.[key] ?? 0); i++) lists[key].push(item(key, i));
  }
  const newlyFailingBySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  newlyFailingBySeverity[severity] = lists.new.length + lists.regressed.length;
  const changed = lists.new.length + lists.regressed.length > 0;
  return {
    schemaVersion: 1,
    account: { id, name: `name-${id}` },
    state,
    runId: state === 'failed' ? null : `run-${id}`,
    collectedAt: state === 'failed' ? null : '2026-11-02T03:00:00.000Z',
    counts: state === 'failed' ? null : { total: 10, PASS: 8, FAIL: 2, WARN: 0, ERROR: state === 'incomplete' ? 1 : 0 },
    reason: state === 'complete' ? null : (options.reason ?? (state === 'failed' ? 'States.Timeout' : 'checks in ERROR: dax-service-role')),
    alert: options.alert ?? (state !== 'complete' || changed),
    highestSeverity: changed || state !== 'complete' ? severity : 'none',
    newlyFailingBySeverity,
    checksInError: state === 'incomplete' ? ['dax-service-role'] : [],
    unreadSources: [],
    changes: lists,
    totals: {
      new: lists.new.length,
      regressed: lists.regressed.length,
      stillOpen: lists.stillOpen.length,
      resolved: lists.resolved.length,
    },
    omitted: { new: 0, regressed: 0, stillOpen: 0, resolved: 0 },
  };
}

/** The bytes SNS counts for a message: body, subject and attributes (names, types, values), UTF-8. */
export function snsBytes(alert: {
  message: string;
  subject: string;
  attributes: Record<string, { DataType?: string; StringValue?: string }>;
}): number {
  let bytes = Buffer.byteLength(alert.message) + Buffer.byteLength(alert.subject);
  for (const [name, value] of Object.entries(alert.attributes)) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? '');
  }
  return bytes;
}
