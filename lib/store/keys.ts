import type { Severity } from '#lib/model/finding.ts';
import { SEVERITIES } from '#lib/model/finding.ts';

/**
 * The single-table key schema (docs/store.md). Kept apart from the store so that the CDK stack
 * and the docs can name the same attributes without importing the SDK-heavy store.
 */

/** The sparse GSI that holds only open findings. */
export const OPEN_INDEX = 'open';
/** History items carry their expiry here; production enables TTL on it (CDK), locally nothing expires. */
export const TTL_ATTRIBUTE = 'expiresAt';
/** The table name of local mode. */
export const LOCAL_TABLE_NAME = 'account-auditor';

export type ItemType = 'finding' | 'run' | 'account' | 'history' | 'lease' | 'observed' | 'section' | 'organization-run';

/** Attributes the store adds for keys and bookkeeping, stripped when items are read back. */
export const KEY_ATTRIBUTES = ['PK', 'SK', 'GSI1PK', 'GSI1SK', 'type'] as const;

export const ACCOUNTS_PK = 'ACCOUNTS';
export const FINDING_PREFIX = 'FINDING#';
export const RUN_PREFIX = 'RUN#';
export const HISTORY_PREFIX = 'HISTORY#';
/** The account's write lease, beside its findings and runs (no finding or run key starts with it). */
export const LEASE_SK = 'LEASE';
/** Per scope (check, or check in a region), the latest observation a stored run covered. */
export const OBSERVED_SK = 'OBSERVED';

/**
 * Organization mode (SPEC 8): one partition per organization run holds each account's digest
 * section (and the run's context, written by discover); one partition lists the organization
 * runs, newest last by start time.
 */
export const ORGRUNS_PK = 'ORGRUNS';
export const SECTION_PREFIX = 'ACCOUNT#';
export const orgRunPk = (organizationRunId: string): string => `ORGRUN#${organizationRunId}`;
export const sectionSk = (accountId: string): string => `${SECTION_PREFIX}${accountId}`;
export const orgRunSk = (startedAt: string, organizationRunId: string): string => `${startedAt}#${organizationRunId}`;

export const accountPk = (accountId: string): string => `ACCOUNT#${accountId}`;
export const findingSk = (checkId: string, resource: string): string => `${FINDING_PREFIX}${checkId}#${resource}`;
export const runSk = (startedAt: string, runId: string): string => `${RUN_PREFIX}${startedAt}#${runId}`;
export const historyPk = (findingId: string): string => `${FINDING_PREFIX}${findingId}`;
export const historySk = (at: string, runId: string): string => `${HISTORY_PREFIX}${at}#${runId}`;
export const openPk = (accountId: string): string => `OPEN#${accountId}`;

/** 1 for critical … 5 for informational: the GSI sort key then lists the most severe first. */
export function severityDigit(severity: Severity): number {
  const index = SEVERITIES.indexOf(severity);
  if (index < 0) throw new Error(`unknown severity: ${String(severity)}`);
  return index + 1;
}

export const openSkPrefix = (severity: Severity): string => `${severityDigit(severity)}#`;
export const openSk = (severity: Severity, checkId: string, resource: string): string => `${openSkPrefix(severity)}${checkId}#${resource}`;
