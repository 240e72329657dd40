import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { CheckId } from '#lib/checks/catalogue.ts';
import type { Status } from '#lib/model/finding.ts';
import { isStale } from '#lib/reconcile/reconcile.ts';
import type { Change, ReconciledFinding, ReconciledRun, RunRecord, StoredFinding } from '#lib/reconcile/types.ts';
import type { FindingsStore } from '#lib/store/store.ts';
import { ACCOUNT } from './account.ts';

export { ACCOUNT };
export const T0 = '2026-11-01T02:00:00.000Z';
export const T1 = '2026-11-02T02:00:00.000Z';
export const T2 = '2026-11-03T02:00:00.000Z';
export const T3 = '2026-11-04T02:00:00.000Z';

export const userArn = (name: string) => `arn:aws:iam::${ACCOUNT}:user/${name}`;

/** A stored state as reconcile would produce it; the store does not care how it was derived. */
export function stored(
  checkId: CheckId,
  resource: string,
  status: Status,
  fields: Partial<Omit<StoredFinding, 'checkId' | 'resource' | 'status'>> & { at: string; runId: string },
): StoredFinding {
  const { at, ...rest } = fields;
  return {
    id: `${ACCOUNT}#${checkId}#${resource}`,
    accountId: ACCOUNT,
    checkId,
    resource,
    status,
    severity: 'high',
    title: `${checkId} ${status} for ${resource}`,
    details: { path: '/', nested: { list: [1, 'two', null], flag: true }, empty: '' },
    firstSeen: at,
    lastSeen: at,
    lastChanged: at,
    resolvedAt: null,
    mute: null,
    ...rest,
  };
}

export function change(change: Change, previousStatus: Status | null, state: StoredFinding): ReconciledFinding {
  return { finding: state, change, previousStatus, previousSeverity: previousStatus === null ? null : state.severity, state, stale: false };
}

/**
 * The run with reconcile's staleness judged against what the store holds now, as the pipeline
 * judges it under the lease: the store leaves what a newer run stored or covered.
 */
export async function judged(store: FindingsStore, reconciled: ReconciledRun): Promise<ReconciledRun> {
  const known = await store.loadKnown(reconciled.run.accountId);
  const at = reconciled.run.collectedAt;
  return {
    ...reconciled,
    findings: reconciled.findings.map((r) => ({ ...r, stale: isStale(r.state, known.state.get(r.state.id), known.observed, at) })),
  };
}

export function runRecord(runId: string, collectedAt: string, fields: Partial<RunRecord> = {}): RunRecord {
  return {
    runId,
    accountId: ACCOUNT,
    partition: 'aws',
    trigger: 'schedule',
    origin: 'test',
    startedAt: collectedAt,
    endedAt: collectedAt,
    durationMs: 1200,
    collectedAt,
    complete: true,
    checks: ['user-full-access', 'access-key-age'],
    regions: ['eu-west-1'],
    counts: {
      total: 0,
      byStatus: { FAIL: 0, WARN: 0, ERROR: 0, PASS: 0 },
      failBySeverity: { critical: 0, high: 0, medium: 0, low: 0, informational: 0 },
      new: 0,
      regressed: 0,
      resolved: 0,
      open: 0,
      muted: 0,
    },
    checksInError: [],
    sources: [{ source: 'credential report', input: 'credentialReport', state: 'read' }],
    ...fields,
  };
}

export function reconciledRun(run: RunRecord, findings: ReconciledFinding[]): ReconciledRun {
  return { run, findings };
}

/** Every item of the table, sorted by key. A Scan, in tests only: the store itself never scans. */
export async function dumpTable(client: DynamoDBClient, tableName: string): Promise<Record<string, unknown>[]> {
  // Same translateConfig as the store's: DocumentClients built on one client share (and overwrite) it.
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const key = (item: Record<string, unknown>) => `${String(item.PK)}\u0000${String(item.SK)}`;
  return items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export interface SentCommand {
  name: string;
  input: Record<string, unknown>;
}

/**
 * Records every command sent through the client, the store's DocumentClient included (it shares
 * the client's middleware stack), by the low-level command name (QueryCommand, ScanCommand…).
 */
export function recordCommands(client: DynamoDBClient): SentCommand[] {
  const sent: SentCommand[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ name: String(context.commandName), input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  return sent;
}
