import { CATALOGUE } from '#lib/checks/catalogue.ts';
import type { Inventory } from '#lib/inventory/types.ts';
import { rootArn } from '#lib/model/arn.ts';
import { type Finding, makeFinding } from '#lib/model/finding.ts';

const ID = 'organization' as const;

/**
 * Whether organization mode got into the account (SPEC 8): one finding per account, on its root.
 * PASS: the member role was assumed, or the auditor's own account was audited with its own role.
 * ERROR: the role could not be assumed; the finding names the call, the role and why (the reason
 * was classified where the call failed). No finding outside organization mode (no access in the
 * inventory): a single-account run has no member role to assume.
 */
export function evaluate(inventory: Inventory): Finding[] {
  const access = inventory.organization?.access;
  if (!access) return [];
  const resource = rootArn(inventory);
  const { roleArn, assumed } = access;
  if (assumed.state === 'read') {
    return [
      makeFinding(inventory, ID, {
        resource,
        status: 'PASS',
        severity: 'informational',
        title: roleArn
          ? `the audit assumed the member role ${roleArn}`
          : "the auditor's own account, audited with the auditor's own role (no member role to assume)",
        details: { roleArn, assumedAt: assumed.data.at },
      }),
    ];
  }
  const into = roleArn && assumed.call === 'sts:AssumeRole' ? ` into ${roleArn}` : '';
  return [
    makeFinding(inventory, ID, {
      resource,
      status: 'ERROR',
      severity: CATALOGUE[ID].severity,
      title: `the account was not audited: ${assumed.call}${into} failed${assumed.code ? ` (${assumed.code})` : ''}: ${assumed.reason}`,
      details: {
        call: assumed.call,
        roleArn,
        reason: assumed.reason,
        ...(assumed.code ? { code: assumed.code } : {}),
        ...(assumed.state === 'unread' ? { kind: assumed.kind } : { state: assumed.state }),
      },
    }),
  ];
}
