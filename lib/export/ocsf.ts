import type { Severity, Status } from '#lib/model/finding.ts';
import { CHECKS as CHECK_LIST, type CheckMetadata } from '#lib/checks/catalogue.ts';
import type { ExportedFinding } from './asff.ts';
import { resourceType } from './asff.ts';

/**
 * OCSF 1.1.0 Compliance Finding (class_uid 2003, category Findings 2): one event per finding.
 * The event's activity says what this run did to it (Create for a new finding, Close for a
 * resolved one, Update otherwise); status_id is the finding's state, compliance.status_id the
 * check's verdict.
 */
export const OCSF_VERSION = '1.1.0';
export const OCSF_CLASS_UID = 2003;
export const OCSF_CATEGORY_UID = 2;

export const OCSF_ACTIVITY = { create: 1, update: 2, close: 3 } as const;
/** Finding status: New, Suppressed (muted), Resolved. */
export const OCSF_STATUS = { new: 1, suppressed: 3, resolved: 4 } as const;
/** compliance.status_id: Pass, Warning, Fail, Other (the check could not decide: ERROR). */
export const OCSF_COMPLIANCE_STATUS: Record<Status, { id: number; name: string }> = {
  PASS: { id: 1, name: 'Pass' },
  WARN: { id: 2, name: 'Warning' },
  FAIL: { id: 3, name: 'Fail' },
  ERROR: { id: 99, name: 'Error' },
};
export const OCSF_SEVERITY: Record<Severity, { id: number; name: string }> = {
  informational: { id: 1, name: 'Informational' },
  low: { id: 2, name: 'Low' },
  medium: { id: 3, name: 'Medium' },
  high: { id: 4, name: 'High' },
  critical: { id: 5, name: 'Critical' },
};

export interface OcsfComplianceFinding {
  activity_id: number;
  activity_name: string;
  category_uid: typeof OCSF_CATEGORY_UID;
  category_name: 'Findings';
  class_uid: typeof OCSF_CLASS_UID;
  class_name: 'Compliance Finding';
  type_uid: number;
  type_name: string;
  time: number;
  severity_id: number;
  severity: string;
  status_id: number;
  status: string;
  message: string;
  metadata: { version: typeof OCSF_VERSION; product: { name: string; vendor_name: string; version: string; uid: string } };
  finding_info: {
    uid: string;
    title: string;
    desc: string;
    types: string[];
    first_seen_time: number;
    last_seen_time: number;
    created_time: number;
    modified_time: number;
  };
  compliance: { standards: string[]; requirements: string[]; control?: string; status_id: number; status: string };
  cloud: { provider: 'AWS'; region?: string; account: { uid: string; type_id: 10; type: 'AWS Account' } };
  resources: { uid: string; type: string; cloud_partition: string; region?: string }[];
  remediation: { desc: string; references: string[] };
  unmapped: { checkId: string; change: string | null; details: Record<string, unknown>; mutedBecause?: string };
}

export interface OcsfContext {
  partition: string;
  /** The region the events are written from (cloud.region). */
  region: string | null;
  /** The event time (epoch ms). */
  now: number;
  productVersion: string;
}

const CHECKS = new Map<string, CheckMetadata>(CHECK_LIST.map((c) => [c.id, c]));

function regionOf(resource: string): string | null {
  const parts = resource.split(':');
  return parts[0] === 'arn' && parts[3] ? parts[3] : null;
}

const ms = (iso: string): number => Date.parse(iso);

export function toOcsf(item: ExportedFinding, context: OcsfContext): OcsfComplianceFinding {
  const f = item.state;
  const check = CHECKS.get(f.checkId);
  const resolved = item.change === 'resolved' || f.resolvedAt !== null;
  const verdict = OCSF_COMPLIANCE_STATUS[resolved ? 'PASS' : f.status];
  const activity = item.change === 'new' ? 'create' : resolved && item.change === 'resolved' ? 'close' : 'update';
  const activityName = { create: 'Create', update: 'Update', close: 'Close' }[activity];
  const status =
    resolved || f.status === 'PASS'
      ? { id: OCSF_STATUS.resolved, name: 'Resolved' }
      : f.mute
        ? { id: OCSF_STATUS.suppressed, name: 'Suppressed' }
        : { id: OCSF_STATUS.new, name: 'New' };
  const severity = OCSF_SEVERITY[f.severity];
  const cis = Object.entries(check?.references.cis ?? {});
  const resourceRegion = regionOf(f.resource);
  return {
    activity_id: OCSF_ACTIVITY[activity],
    activity_name: activityName,
    category_uid: OCSF_CATEGORY_UID,
    category_name: 'Findings',
    class_uid: OCSF_CLASS_UID,
    class_name: 'Compliance Finding',
    type_uid: OCSF_CLASS_UID * 100 + OCSF_ACTIVITY[activity],
    type_name: `Compliance Finding: ${activityName}`,
    time: context.now,
    severity_id: severity.id,
    severity: severity.name,
    status_id: status.id,
    status: status.name,
    message: f.title,
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'account-auditor', vendor_name: 'account-auditor', version: context.productVersion, uid: 'account-auditor' },
    },
    finding_info: {
      uid: f.id,
      title: f.title,
      desc: check ? `${f.title}. Check ${check.id}: ${check.title}. ${check.rationale}` : f.title,
      types: [f.checkId],
      first_seen_time: ms(f.firstSeen),
      last_seen_time: ms(f.lastSeen),
      created_time: ms(f.firstSeen),
      modified_time: ms(f.lastChanged),
    },
    compliance: {
      standards: cis.length > 0 ? cis.map(([version]) => `CIS AWS Foundations Benchmark ${version}`) : ['AWS Security Best Practices'],
      requirements: cis.map(([version, control]) => `CIS AWS Foundations Benchmark ${version}/${control}`),
      ...(check?.references.securityHub[0] ? { control: check.references.securityHub[0] } : {}),
      status_id: verdict.id,
      status: verdict.name,
    },
    cloud: {
      provider: 'AWS',
      ...(context.region ? { region: context.region } : {}),
      account: { uid: f.accountId, type_id: 10, type: 'AWS Account' },
    },
    resources: [
      {
        uid: f.resource,
        type: resourceType(f.resource),
        cloud_partition: context.partition,
        ...(resourceRegion ? { region: resourceRegion } : {}),
      },
    ],
    remediation: {
      desc: check ? `${check.remediation.text} ${check.remediation.command}` : `See account-auditor check ${f.checkId}.`,
      references: check?.references.docs ?? [],
    },
    unmapped: { checkId: f.checkId, change: item.change, details: f.details, ...(f.mute ? { mutedBecause: f.mute.reason } : {}) },
  };
}
