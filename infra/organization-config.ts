import type { IConstruct } from 'constructs';
import {
  ACCOUNT_ID,
  MAX_MAX_CONCURRENCY,
  OU_ID,
  OrganizationSettingsError,
  parseOrganizationSettings,
  ROOT_ID,
  type OrganizationSettings,
  type OrganizationSettingsInput,
} from '#lib/organization/settings.ts';
import { ConfigError } from './config.ts';

/**
 * Organization mode's deployment choices, from CDK context (`-c key=value` or cdk.json), on top of
 * the single-account ones (infra/config.ts: alertEmail, schedule, settings, regions):
 *
 * - `mode`: `organization` synthesizes the organization stacks instead of the single-account one;
 * - `organizationMaxConcurrency`: accounts audited at once, default 20 (1 to 900);
 * - `memberRoleName`: the member accounts' role, default AccountAuditorMemberRole;
 * - `externalId`: required by the member roles' trust and passed on every AssumeRole;
 * - `managementRoleArn`: a role in the management account that discovery assumes; without it,
 *   discovery calls Organizations directly (the auditor's account is a delegated administrator);
 * - `includeAccounts`, `excludeAccounts`, `includeOus`, `excludeOus`: comma-separated IDs;
 * - `organizationAlerts`: `digest` (default) or `per-account`;
 * - `auditorAccountId`: the security tooling account the OrganizationAuditStack is deployed to,
 *   whose per-account function role the member roles trust (required for the member role stacks);
 * - `memberRoleOus`: where the StackSet deploys the member role: the organization root ID
 *   (`r-…`) or OU IDs, comma-separated (required for the StackSet);
 * - `stackSetCallAs`: `SELF` (default: the StackSet stack is deployed in the management account)
 *   or `DELEGATED_ADMIN` (in a StackSets delegated administrator account).
 *
 * Everything is validated at synth time, and every message names its context key.
 */
export type DeploymentMode = 'single-account' | 'organization';

export const STACK_SET_CALL_AS = ['SELF', 'DELEGATED_ADMIN'] as const;
export type StackSetCallAs = (typeof STACK_SET_CALL_AS)[number];

/** The per-account function's role name: fixed, so that the member roles can trust it by ARN. */
export const ACCOUNT_AUDIT_ROLE_NAME = 'AccountAuditorOrganizationAudit';
/** The discover function's role name: fixed, so that a management account role can trust it by ARN. */
export const DISCOVER_ROLE_NAME = 'AccountAuditorOrganizationDiscover';

/** The organization settings' fields, by the context key that sets each. */
const CONTEXT_KEY: Record<keyof OrganizationSettingsInput, string> = {
  managementRoleArn: 'managementRoleArn',
  memberRoleName: 'memberRoleName',
  externalId: 'externalId',
  includeAccounts: 'includeAccounts',
  excludeAccounts: 'excludeAccounts',
  includeOus: 'includeOus',
  excludeOus: 'excludeOus',
  maxConcurrency: 'organizationMaxConcurrency',
  alerts: 'organizationAlerts',
};

export interface MemberRoleConfig {
  /** The security tooling account (the OrganizationAuditStack's). */
  auditorAccountId: string;
  /** StackSet deployment targets: the root or OUs. */
  targets: string[];
  callAs: StackSetCallAs;
}

function raw(scope: IConstruct, key: string): unknown {
  const value: unknown = scope.node.tryGetContext(key);
  return value === null || (typeof value === 'string' && value.trim() === '') ? undefined : value;
}

function text(scope: IConstruct, key: string): string | undefined {
  const value = raw(scope, key);
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ConfigError(`context ${key} must be a string, got ${JSON.stringify(value)}`);
  return value.trim();
}

function list(scope: IConstruct, key: string): string[] | undefined {
  const value = raw(scope, key);
  if (value === undefined) return undefined;
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : null;
  if (!items?.every((i): i is string => typeof i === 'string'))
    throw new ConfigError(`context ${key} must be a comma-separated list, got ${JSON.stringify(value)}`);
  return items.map((i) => i.trim()).filter((i) => i !== '');
}

/** `mode`: single-account unless `organization`. */
export function readMode(scope: IConstruct): DeploymentMode {
  const mode = text(scope, 'mode');
  if (mode === undefined || mode === 'single-account') return 'single-account';
  if (mode === 'organization') return 'organization';
  throw new ConfigError(`context mode must be organization or single-account, got ${JSON.stringify(mode)}`);
}

/** The organization settings the context gives, validated as the discover function will. */
export function readOrganizationSettings(scope: IConstruct): OrganizationSettings {
  const input: Record<string, unknown> = {};
  for (const key of ['managementRoleArn', 'memberRoleName', 'externalId'] as const) {
    const value = text(scope, CONTEXT_KEY[key]);
    if (value !== undefined) input[key] = value;
  }
  for (const key of ['includeAccounts', 'excludeAccounts', 'includeOus', 'excludeOus'] as const) {
    const value = list(scope, CONTEXT_KEY[key]);
    if (value !== undefined) input[key] = value;
  }
  const concurrency = raw(scope, CONTEXT_KEY.maxConcurrency);
  if (concurrency !== undefined) {
    // `-c organizationMaxConcurrency=20` arrives as a string, cdk.json may hold the number.
    const n =
      typeof concurrency === 'number'
        ? concurrency
        : typeof concurrency === 'string' && /^\s*\d+\s*$/.test(concurrency)
          ? Number(concurrency)
          : Number.NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_MAX_CONCURRENCY) {
      throw new ConfigError(
        `context ${CONTEXT_KEY.maxConcurrency} must be a whole number from 1 to ${MAX_MAX_CONCURRENCY} (accounts audited at once), got ${JSON.stringify(concurrency)}`,
      );
    }
    input.maxConcurrency = n;
  }
  const alerts = text(scope, CONTEXT_KEY.alerts);
  if (alerts !== undefined) input.alerts = alerts;
  try {
    return parseOrganizationSettings(input);
  } catch (error) {
    if (!(error instanceof OrganizationSettingsError)) throw error;
    // Name the context key, not the settings field: `maxConcurrency:` → `organizationMaxConcurrency:`.
    const message = error.message.replace(/^invalid organization settings: /, '');
    const renamed = message.replace(
      /(^|; )(\w+)/g,
      (_, sep: string, field: string) => `${sep}${CONTEXT_KEY[field as keyof OrganizationSettingsInput] ?? field}`,
    );
    throw new ConfigError(`context: ${renamed}`);
  }
}

/** The member role stacks' context: who the roles trust and where the StackSet deploys them. */
export function readMemberRoleConfig(scope: IConstruct): MemberRoleConfig {
  const auditorAccountId = text(scope, 'auditorAccountId');
  if (auditorAccountId === undefined || !ACCOUNT_ID.test(auditorAccountId)) {
    throw new ConfigError(
      `context auditorAccountId must be the 12-digit ID of the security tooling account the OrganizationAuditStack is deployed to (the member roles trust its function role)${auditorAccountId === undefined ? '' : `, got ${JSON.stringify(auditorAccountId)}`}`,
    );
  }
  const targets = list(scope, 'memberRoleOus') ?? [];
  if (targets.length === 0) {
    throw new ConfigError(
      'context memberRoleOus must name where the StackSet deploys the member role: the organization root ID (r-…) for every account, or OU IDs (ou-…), comma-separated',
    );
  }
  const bad = targets.filter((t) => !ROOT_ID.test(t) && !OU_ID.test(t));
  if (bad.length > 0)
    throw new ConfigError(
      `context memberRoleOus must hold a root ID (r-…) or OU IDs (ou-…), got ${bad.map((b) => JSON.stringify(b)).join(', ')}`,
    );
  if (targets.some((t) => ROOT_ID.test(t)) && targets.length > 1)
    throw new ConfigError('context memberRoleOus: the root already covers every OU; give the root alone or OUs only');
  const callAs = text(scope, 'stackSetCallAs') ?? 'SELF';
  if (!(STACK_SET_CALL_AS as readonly string[]).includes(callAs))
    throw new ConfigError(`context stackSetCallAs must be SELF or DELEGATED_ADMIN, got ${JSON.stringify(callAs)}`);
  return { auditorAccountId, targets: [...new Set(targets)], callAs: callAs as StackSetCallAs };
}
