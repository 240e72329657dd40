/**
 * What the CDK stack and the Lambda handler must agree on, in one place: the environment the
 * stack sets, the metrics the handler emits and the alarms watch, and where the handler lives.
 */
export const ENV = {
  /** The findings table (DynamoDB). */
  tableName: 'TABLE_NAME',
  /** The alert topic (SNS). */
  topicArn: 'TOPIC_ARN',
  /** The deployed settings, as JSON (lib/settings.ts); on-demand payloads may only narrow them. */
  settings: 'AUDITOR_SETTINGS',
} as const;

export const METRICS_NAMESPACE = 'AccountAuditor';
export const SERVICE_NAME = 'account-auditor';

export const METRIC = {
  /** 1 for every run that finished and saved its state; the "no successful run in 26 hours" alarm watches it. */
  runSucceeded: 'RunSucceeded',
  checksInError: 'ChecksInError',
  newFindings: 'NewFindings',
  resolvedFindings: 'ResolvedFindings',
  openFindings: 'OpenFindings',
  durationMs: 'AuditDuration',
  /** Findings of a saved run imported into Security Hub (only with the securityHub setting on). */
  securityHubImported: 'SecurityHubImportedFindings',
  /** Findings of a saved run Security Hub did not take; the Security Hub alarm watches it. */
  securityHubFailed: 'SecurityHubFailedFindings',
} as const;

/** The handler's source file, relative to the project root, and its exported function. */
export const HANDLER_ENTRY = 'functions/audit.ts';
export const HANDLER_EXPORT = 'handler';
