import type { Settings } from '#lib/settings.ts';
import type {
  AccessKeyMetadata,
  CredentialReport,
  CredentialReportKey,
  CredentialReportRow,
  Inventory,
  KeySlotName,
  Source,
} from '#lib/inventory/types.ts';
import { CATALOGUE } from '#lib/checks/catalogue.ts';
import type { Finding, Severity, Status } from '#lib/model/finding.ts';
import { allUsersArn } from '#lib/model/arn.ts';
import { errorFinding, makeFinding } from '#lib/model/finding.ts';
import { ageInDays, describeKey } from '../support/key-facts.ts';

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

const SLOTS: readonly KeySlotName[] = ['access_key_1', 'access_key_2'];

/**
 * Cross-source consistency with the authorization details (SPEC 2.1), when they were read:
 * - `missing`: users the details list but the report does not, although it was generated after
 *   they were created (or at an unknown time): their keys cannot be checked, so each of their key
 *   slots is ERROR, never resolved. A user created after the report cannot be in it yet, and any
 *   key of theirs is younger than the report: they are left for the next report.
 * - `unlisted`: report rows of users the details do not list (deleted since the report, or the
 *   two come from different exports); their findings say so.
 */
function crossCheck(inventory: Inventory, report: CredentialReport): { missing: Finding[]; unlisted: Set<string> } {
  const details = inventory.authorizationDetails;
  if (details.state !== 'read') return { missing: [], unlisted: new Set() };
  const inReport = new Set(report.rows.filter((r) => !r.isRoot).map((r) => r.arn));
  const listed = new Set(details.data.users.map((u) => u.arn));
  const generated = report.generatedAt === null ? null : Date.parse(report.generatedAt);
  const missing: Finding[] = [];
  for (const user of details.data.users) {
    if (inReport.has(user.arn)) continue;
    const created = user.createDate === null ? null : Date.parse(user.createDate);
    if (generated !== null && created !== null && created > generated) continue;
    const when =
      generated === null
        ? 'whose generation time is unknown (so it cannot be shown to predate the user)'
        : `generated ${report.generatedAt}, after the user was created (${user.createDate ?? 'at an unknown time'})`;
    for (const slot of SLOTS) {
      missing.push(
        makeFinding(inventory, ID, {
          resource: `${user.arn}#${slot}`,
          status: 'ERROR',
          severity: CATALOGUE['access-key-age'].severity,
          title: `${user.name}'s ${slot} could not be evaluated: ${user.name} is in the authorization details but not in the credential report`,
          details: {
            user: user.name,
            userArn: user.arn,
            slot,
            userCreatedAt: user.createDate,
            reportGeneratedAt: report.generatedAt,
            reason: `the authorization details list ${user.name}, but the credential report ${when} has no row for this user: its access keys cannot be checked`,
          },
        }),
      );
    }
  }
  const unlisted = new Set(report.rows.filter((r) => !r.isRoot && !listed.has(r.arn)).map((r) => r.arn));
  return { missing, unlisted };
}

export function evaluate(inventory: Inventory, settings: Settings): Finding[] {
  const report = inventory.credentialReport;
  if (report.state !== 'read') return [errorFinding(inventory, CATALOGUE['access-key-age'], allUsersArn(inventory), report)];

  const { missing, unlisted } = crossCheck(inventory, report.data);
  const findings: Finding[] = [...missing];
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
      const stranger = unlisted.has(row.arn);
      if (stranger) {
        details.notInAuthorizationDetails =
          `the credential report lists ${row.user} (${row.arn}), but the authorization details do not: ` +
          'deleted since the report was generated, or the report and the details come from different exports';
      }
      if (!key.lastRotated) {
        // An active key without a creation date cannot be shown to be young: ERROR, not PASS.
        findings.push(
          makeFinding(inventory, ID, {
            resource,
            status: 'ERROR',
            severity: CATALOGUE['access-key-age'].severity,
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
      } else if (lookup) {
        details.keyIdLookup = { call: lookup.call, reason: lookup.reason, code: lookup.code };
      }

      const name = `${displayName(row)}'s ${key.slot}${keyId ? ` (${keyId})` : ''}`;
      const title =
        status === 'FAIL'
          ? `${name} is ${ageDays} days old, over the ${settings.maxKeyAgeDays}-day limit`
          : status === 'WARN'
            ? `${name} is ${ageDays} days old, near the ${settings.maxKeyAgeDays}-day limit`
            : `${name} is ${ageDays} days old${since}`;
      const suffix = stranger ? ' (the user is not in the authorization details)' : '';
      findings.push(makeFinding(inventory, ID, { resource, status, severity, title: `${title}${suffix}`, details }));
    }
  }
  return findings;
}
