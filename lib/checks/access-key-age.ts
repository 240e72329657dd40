import type { AccessKeyMetadata, CredentialReportKey, CredentialReportRow, Source } from '#lib/inventory/types.ts';
import type { Check, Finding, Severity, Status } from './types.ts';
import { allUsersArn, errorFinding, makeFinding } from './types.ts';
import { ageInDays, describeKey } from './key-facts.ts';

const ID = 'access-key-age' as const;

/**
 * The credential report names a key by its slot and gives its creation date (`last_rotated`);
 * ListAccessKeys, fetched for offenders only, gives key IDs and real-time creation dates. A report
 * key matches a listed key when their creation dates agree to the second (the report rounds).
 */
function matchListedKey(key: CredentialReportKey, listed: AccessKeyMetadata[]): AccessKeyMetadata | undefined {
  if (!key.lastRotated) return undefined;
  const created = Date.parse(key.lastRotated);
  return listed.find((k) => k.createDate !== null && Math.abs(Date.parse(k.createDate) - created) < 2000);
}

function statusFor(ageDays: number, maxDays: number, warnDays: number): { status: Status; severity: Severity } {
  if (ageDays > maxDays) return { status: 'FAIL', severity: 'medium' };
  if (ageDays >= warnDays) return { status: 'WARN', severity: 'low' };
  return { status: 'PASS', severity: 'informational' };
}

function displayName(row: CredentialReportRow): string {
  return row.isRoot ? 'the root user' : row.user;
}

export const accessKeyAge: Check = {
  id: ID,
  title: 'Active access keys are rotated within the maximum age',
  severity: 'medium',
  rationale:
    'Long-lived access keys are the credentials most often leaked in code, logs and laptops. ' +
    'Rotating them bounds how long a leaked key stays useful.',
  remediation: {
    text: 'Create a new key, move its users to it, then deactivate and delete the old key.',
    command:
      'aws iam create-access-key --user-name <user> && aws iam update-access-key --user-name <user> --access-key-id <old-key-id> --status Inactive && aws iam delete-access-key --user-name <user> --access-key-id <old-key-id>',
  },
  references: {
    cis: { 'v1.4.0': '1.14', 'v3.0.0': '1.14', 'v5.0.0': '1.13' },
    securityHub: ['IAM.3'],
    awsConfig: ['access-keys-rotated'],
    docs: ['https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html#Using_RotateAccessKey'],
  },

  evaluate(inventory, settings): Finding[] {
    const report = inventory.credentialReport;
    if (report.state === 'unread') return [errorFinding(inventory, accessKeyAge, allUsersArn(inventory), report)];

    const findings: Finding[] = [];
    for (const row of report.data.rows) {
      const lookup: Source<AccessKeyMetadata[]> | undefined = row.isRoot ? undefined : inventory.accessKeys[row.user];
      for (const key of row.keys) {
        // Inactive keys cannot be used, so their age is not a risk this check measures.
        if (!key.active) continue;
        const resource = `${row.arn}#${key.slot}`;
        const details: Record<string, unknown> = {
          user: row.user,
          ...describeKey(key, inventory.collectedAt),
          maxKeyAgeDays: settings.maxKeyAgeDays,
          warnKeyAgeDays: settings.warnKeyAgeDays,
          reportGeneratedAt: report.data.generatedAt,
        };
        if (!key.lastRotated) {
          // An active key without a creation date cannot be shown to be young: ERROR, not PASS.
          findings.push(
            makeFinding(inventory, ID, {
              resource,
              status: 'ERROR',
              severity: accessKeyAge.severity,
              title: `${displayName(row)}'s ${key.slot} is active but the credential report gives no creation date`,
              details,
            }),
          );
          continue;
        }

        const ageDays = ageInDays(key.lastRotated, inventory.collectedAt);
        let { status, severity } = statusFor(ageDays, settings.maxKeyAgeDays, settings.warnKeyAgeDays);
        let keyId: string | undefined;
        let since = '';
        if (lookup?.state === 'read') {
          const listed = matchListedKey(key, lookup.data);
          if (listed) {
            keyId = listed.accessKeyId;
            details.keyId = keyId;
            details.confirmedBy = 'ListAccessKeys';
            if (listed.status !== 'Active') {
              // Deactivated since the report: no longer a usable key.
              details.note = `deactivated since the credential report (status now ${listed.status})`;
              ({ status, severity } = { status: 'PASS', severity: 'informational' });
              since = ', deactivated since the report';
            }
          } else {
            // Not among the user's current keys: rotated or deleted since the report. The report
            // alone cannot prove that, so the status stays what the report says; the next run settles it.
            details.note = `not among the user's current keys (${lookup.data.map((k) => k.accessKeyId).join(', ') || 'none'}): probably rotated since the report`;
          }
        } else if (lookup?.state === 'unread') {
          details.keyIdLookup = { call: lookup.call, reason: lookup.reason, code: lookup.code };
        }

        const name = `${displayName(row)}'s ${key.slot}${keyId ? ` (${keyId})` : ''}`;
        const title =
          status === 'FAIL'
            ? `${name} is ${ageDays} days old, over the ${settings.maxKeyAgeDays}-day limit`
            : status === 'WARN'
              ? `${name} is ${ageDays} days old, near the ${settings.maxKeyAgeDays}-day limit`
              : `${name} is ${ageDays} days old${since}`;
        findings.push(makeFinding(inventory, ID, { resource, status, severity, title, details }));
      }
    }
    return findings;
  },
};
