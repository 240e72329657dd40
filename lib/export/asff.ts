import { createHash } from 'node:crypto';
import type { Finding, Severity, Status } from '#lib/model/finding.ts';
import { CHECKS as CHECK_LIST, type CheckMetadata } from '#lib/checks/catalogue.ts';
import type { Change, StoredFinding } from '#lib/reconcile/types.ts';

/**
 * AWS Security Finding Format (schema 2018-10-08), the subset account-auditor writes. Field limits
 * are Security Hub's (API reference, AwsSecurityFinding): a finding that breaks one is refused by
 * BatchImportFindings, so validateAsff checks each of them before anything is sent or printed.
 */
export const ASFF_SCHEMA_VERSION = '2018-10-08';

export type AsffSeverityLabel = 'INFORMATIONAL' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
export type AsffComplianceStatus = 'PASSED' | 'WARNING' | 'FAILED' | 'NOT_AVAILABLE';
export type AsffResourceType = 'AwsAccount' | 'AwsIamUser' | 'AwsIamAccessKey' | 'AwsIamRole' | 'AwsElastiCacheCacheCluster' | 'Other';

export interface AsffResource {
  Type: AsffResourceType;
  Id: string;
  Partition: string;
  Region: string;
}

export interface AsffFinding {
  SchemaVersion: typeof ASFF_SCHEMA_VERSION;
  Id: string;
  ProductArn: string;
  GeneratorId: string;
  AwsAccountId: string;
  Region: string;
  Types: string[];
  FirstObservedAt: string;
  LastObservedAt: string;
  CreatedAt: string;
  UpdatedAt: string;
  Severity: { Label: AsffSeverityLabel; Original: string };
  Title: string;
  Description: string;
  Remediation: { Recommendation: { Text: string; Url?: string } };
  ProductFields: Record<string, string>;
  Resources: AsffResource[];
  Compliance: { Status: AsffComplianceStatus; RelatedRequirements?: string[]; SecurityControlId?: string };
  RecordState: 'ACTIVE' | 'ARCHIVED';
  /** Sent only when the finding is new to the auditor: a status a person set is never overwritten. */
  Workflow?: { Status: 'NEW' | 'SUPPRESSED' };
}

/** Security Hub's limits on the fields written here. */
export const ASFF_LIMITS = {
  id: 512,
  generatorId: 512,
  title: 256,
  description: 1024,
  recommendationText: 512,
  types: 50,
  resources: 32,
  relatedRequirements: 32,
  productFields: 50,
  productFieldKey: 128,
  productFieldValue: 2048,
} as const;

export const TYPE_NAMESPACES = [
  'Software and Configuration Checks',
  'TTPs',
  'Effects',
  'Unusual Behaviors',
  'Sensitive Data Identifications',
] as const;

const BEST_PRACTICES_TYPE = 'Software and Configuration Checks/AWS Security Best Practices';
const CIS_TYPE = 'Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark';

/** Where the findings go: the account's default product in one Security Hub region. */
export interface AsffTarget {
  partition: string;
  region: string;
  accountId: string;
  /** UpdatedAt: when the findings are written. */
  now: string;
}

/** One finding to write: its stored state (firstSeen, lastSeen, mute) and what this run meant for it (null: read from the store). */
export interface ExportedFinding {
  state: StoredFinding;
  change: Change | null;
}

export function productArn(target: Pick<AsffTarget, 'partition' | 'region' | 'accountId'>): string {
  return `arn:${target.partition}:securityhub:${target.region}:${target.accountId}:product/${target.accountId}/default`;
}

const CHECKS = new Map<string, CheckMetadata>(CHECK_LIST.map((c) => [c.id, c]));

const SEVERITY_LABEL: Record<Severity, AsffSeverityLabel> = {
  critical: 'CRITICAL',
  high: 'HIGH',
  medium: 'MEDIUM',
  low: 'LOW',
  informational: 'INFORMATIONAL',
};

const COMPLIANCE_STATUS: Record<Status, AsffComplianceStatus> = {
  PASS: 'PASSED',
  WARN: 'WARNING',
  FAIL: 'FAILED',
  ERROR: 'NOT_AVAILABLE',
};

/**
 * Text Security Hub accepts: no control characters (a newline or NUL in a policy name), never
 * blank, at most `max` UTF-16 units without splitting a surrogate pair, cut with an ellipsis.
 */
export function asffText(value: string, max: number, fallback: string): string {
  let text = value
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .trim();
  if (!/\S/.test(text)) text = fallback;
  if (text.length <= max) return text;
  let cut = max - 1;
  if (/[\ud800-\udbff]/.test(text[cut - 1] ?? '')) cut -= 1;
  return `${text.slice(0, cut)}…`;
}

/**
 * The finding ID when Security Hub can hold it (at most 512 characters, no control characters);
 * any other (a deep IAM path) keeps a cleaned start and ends in the ID's SHA-256, so it stays
 * stable and unique.
 */
export function asffId(findingId: string): string {
  const clean = asffText(findingId, Number.MAX_SAFE_INTEGER, 'finding');
  if (clean === findingId && findingId.length <= ASFF_LIMITS.id) return findingId;
  const hash = createHash('sha256').update(findingId).digest('hex');
  return `${asffText(clean, ASFF_LIMITS.id - hash.length - 8, 'finding')}#sha256:${hash}`;
}

/** The region of a regional ARN, or null for a global one (IAM). */
function regionOf(resource: string): string | null {
  const parts = resource.split(':');
  return parts[0] === 'arn' && parts[3] ? parts[3] : null;
}

/** The ASFF resource type of a finding's resource: a wildcard scope (a check-wide ERROR) is Other. */
export function resourceType(resource: string): AsffResourceType {
  if (resource.includes('*')) return 'Other';
  if (/^arn:[^:]+:iam::\d{12}:root$/.test(resource)) return 'AwsAccount';
  if (/^arn:[^:]+:iam::\d{12}:user\/.+#/.test(resource)) return 'AwsIamAccessKey';
  if (/^arn:[^:]+:iam::\d{12}:user\/./.test(resource)) return 'AwsIamUser';
  if (/^arn:[^:]+:iam::\d{12}:role\/./.test(resource)) return 'AwsIamRole';
  if (/^arn:[^:]+:elasticache:[^:]+:\d{12}:cluster:./.test(resource)) return 'AwsElastiCacheCacheCluster';
  return 'Other';
}

function asffResource(finding: Finding, partition: string, region: string): AsffResource {
  const type = resourceType(finding.resource);
  // Security Hub names an account `AWS::::Account:<id>`; every other resource by its ARN (plus key slot).
  const id = type === 'AwsAccount' ? `AWS::::Account:${finding.accountId}` : finding.resource;
  return { Type: type, Id: asffText(id, 2048, finding.id), Partition: partition, Region: regionOf(finding.resource) ?? region };
}

/** `CIS AWS Foundations Benchmark v1.4.0/1.14`, Security Hub's own spelling of a CIS requirement. */
function relatedRequirements(check: CheckMetadata | undefined): string[] {
  if (!check) return [];
  return Object.entries(check.references.cis).map(([version, control]) => `CIS AWS Foundations Benchmark ${version}/${control}`);
}

function description(finding: Finding, check: CheckMetadata | undefined): string {
  const what = check ? `${finding.title}. Check ${check.id}: ${check.title}.` : `${finding.title}.`;
  const details = Object.keys(finding.details).length > 0 ? ` Details: ${JSON.stringify(finding.details)}` : '';
  const why = check ? ` ${check.rationale}` : '';
  return asffText(`${what}${details}${why}`, ASFF_LIMITS.description, finding.checkId);
}

/**
 * One finding in ASFF. FirstObservedAt and CreatedAt are the stored firstSeen (never this run's
 * time), LastObservedAt the last run that saw it, UpdatedAt the time of writing. A finding this
 * run resolved is PASSED and ARCHIVED; an open one ACTIVE. Workflow is set only for a finding new
 * to the auditor: NEW, or SUPPRESSED when a mute covers it.
 */
export function toAsff(item: ExportedFinding, target: AsffTarget): AsffFinding {
  const f = item.state;
  const check = CHECKS.get(f.checkId);
  const resolved = item.change === 'resolved' || f.resolvedAt !== null;
  const status: Status = resolved ? 'PASS' : f.status;
  const requirements = relatedRequirements(check);
  const control = check?.references.securityHub[0];
  const url = check?.references.docs[0];
  const remediation = check ? `${check.remediation.text} ${check.remediation.command}` : `See account-auditor check ${f.checkId}.`;
  const productFields: Record<string, string> = {
    'accountAuditor/checkId': f.checkId,
    'accountAuditor/status': f.status,
    'accountAuditor/resource': asffText(f.resource, ASFF_LIMITS.productFieldValue, f.checkId),
    'accountAuditor/findingId': asffText(f.id, ASFF_LIMITS.productFieldValue, f.checkId),
    'accountAuditor/runId': f.runId,
  };
  if (item.change) productFields['accountAuditor/change'] = item.change;
  if (f.mute) productFields['accountAuditor/mutedBecause'] = asffText(f.mute.reason, ASFF_LIMITS.productFieldValue, 'muted');
  const finding: AsffFinding = {
    SchemaVersion: ASFF_SCHEMA_VERSION,
    Id: asffId(f.id),
    ProductArn: productArn(target),
    GeneratorId: asffText(f.checkId, ASFF_LIMITS.generatorId, 'account-auditor'),
    AwsAccountId: f.accountId,
    Region: target.region,
    Types: requirements.length > 0 ? [BEST_PRACTICES_TYPE, CIS_TYPE] : [BEST_PRACTICES_TYPE],
    FirstObservedAt: f.firstSeen,
    LastObservedAt: f.lastSeen,
    CreatedAt: f.firstSeen,
    UpdatedAt: target.now,
    // Security Hub's convention: a passed control is INFORMATIONAL; Original keeps the check's severity.
    Severity: { Label: status === 'PASS' ? 'INFORMATIONAL' : SEVERITY_LABEL[f.severity], Original: f.severity },
    Title: asffText(f.title, ASFF_LIMITS.title, check?.title ?? f.checkId),
    Description: description(f, check),
    Remediation: {
      Recommendation: { Text: asffText(remediation, ASFF_LIMITS.recommendationText, f.checkId), ...(url ? { Url: url } : {}) },
    },
    ProductFields: productFields,
    Resources: [asffResource(f, target.partition, target.region)],
    Compliance: {
      Status: COMPLIANCE_STATUS[status],
      ...(requirements.length > 0 ? { RelatedRequirements: requirements } : {}),
      ...(control ? { SecurityControlId: control } : {}),
    },
    RecordState: item.change === 'resolved' ? 'ARCHIVED' : 'ACTIVE',
  };
  if (item.change === 'new') finding.Workflow = { Status: f.mute ? 'SUPPRESSED' : 'NEW' };
  return finding;
}

/** A finding Security Hub would refuse: which finding, which field, and why. */
export class AsffValidationError extends Error {
  override name = 'AsffValidationError';
  constructor(
    readonly findingId: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`ASFF finding ${JSON.stringify(findingId)} is invalid: ${field} ${reason}`);
  }
}

/** A type is namespace/category/classifier, namespace one of Security Hub's five, each part non-empty and free of '/'. */
const TYPE_PATTERN = new RegExp(`^(?:${TYPE_NAMESPACES.join('|')})(?:/[^/]*[^/\\s][^/]*){0,2}$`);
/** Security Hub's timestamp forms: seconds, up to 9 fraction digits, Z or an offset of at most 18 hours. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-](?:0\d|1[0-8])(?::?[0-5]\d)?)$/;
const SEVERITY_LABELS = new Set<string>(Object.values(SEVERITY_LABEL));
const COMPLIANCE_STATUSES = new Set<string>(Object.values(COMPLIANCE_STATUS));
const RESOURCE_TYPES = new Set<string>([
  'AwsAccount',
  'AwsIamUser',
  'AwsIamAccessKey',
  'AwsIamRole',
  'AwsElastiCacheCacheCluster',
  'Other',
]);
const PRODUCT_ARN = /^arn:(aws|aws-cn|aws-us-gov|aws-iso[a-z-]*):securityhub:[a-z]{2}(-[a-z]+)+-\d+:(\d{12}):product\/(\d{12})\/default$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what ASFF refuses
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Checks every limit and pattern Security Hub applies to the fields written here, and throws
 * AsffValidationError naming the finding and the first field that breaks one.
 */
export function validateAsff(finding: unknown): asserts finding is AsffFinding {
  const f = (finding ?? {}) as Record<string, unknown>;
  const id = typeof f.Id === 'string' ? f.Id : '(no Id)';
  const fail = (field: string, reason: string): never => {
    throw new AsffValidationError(id, field, reason);
  };
  const text = (field: string, value: unknown, max: number, required = true): void => {
    if (value === undefined && !required) return;
    if (typeof value !== 'string') fail(field, `must be a string, got ${typeof value}`);
    const s = value as string;
    if (!/\S/.test(s)) fail(field, 'must not be empty or blank');
    if (s.length > max) fail(field, `is ${s.length} characters long; the limit is ${max}`);
    if (CONTROL_CHARS.test(s)) fail(field, 'holds a control character');
    if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)) fail(field, 'holds a lone UTF-16 surrogate');
  };
  const timestamp = (field: string, value: unknown): void => {
    if (typeof value !== 'string' || !TIMESTAMP.test(value) || Number.isNaN(Date.parse(value)))
      fail(
        field,
        `must be an ISO 8601 timestamp Security Hub accepts (YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)), got ${JSON.stringify(value)}`,
      );
  };

  if (f.SchemaVersion !== ASFF_SCHEMA_VERSION)
    fail('SchemaVersion', `must be ${ASFF_SCHEMA_VERSION}, got ${JSON.stringify(f.SchemaVersion)}`);
  text('Id', f.Id, ASFF_LIMITS.id);
  text('GeneratorId', f.GeneratorId, ASFF_LIMITS.generatorId);
  if (typeof f.AwsAccountId !== 'string' || !/^\d{12}$/.test(f.AwsAccountId))
    fail('AwsAccountId', `must be 12 digits, got ${JSON.stringify(f.AwsAccountId)}`);
  const arn = typeof f.ProductArn === 'string' ? PRODUCT_ARN.exec(f.ProductArn) : null;
  if (!arn)
    fail(
      'ProductArn',
      `must be arn:<partition>:securityhub:<region>:<account>:product/<account>/default, got ${JSON.stringify(f.ProductArn)}`,
    );
  if (arn![3] !== f.AwsAccountId || arn![4] !== f.AwsAccountId)
    fail('ProductArn', `must name the finding's account ${String(f.AwsAccountId)} (the default product imports an account's own findings)`);
  if (f.Region !== undefined && (typeof f.Region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(f.Region)))
    fail('Region', `must be a region name, got ${JSON.stringify(f.Region)}`);

  if (!Array.isArray(f.Types) || f.Types.length === 0) fail('Types', 'must list at least one type');
  const types = f.Types as unknown[];
  if (types.length > ASFF_LIMITS.types) fail('Types', `lists ${types.length} types; the limit is ${ASFF_LIMITS.types}`);
  types.forEach((t, i) => {
    if (typeof t !== 'string' || !TYPE_PATTERN.test(t) || CONTROL_CHARS.test(t)) {
      fail(`Types[${i}]`, `${JSON.stringify(t)} is not namespace/category/classifier with namespace one of: ${TYPE_NAMESPACES.join(', ')}`);
    }
  });

  for (const field of ['FirstObservedAt', 'LastObservedAt', 'CreatedAt', 'UpdatedAt'] as const) timestamp(field, f[field]);
  if (Date.parse(f.FirstObservedAt as string) > Date.parse(f.LastObservedAt as string)) fail('FirstObservedAt', 'is after LastObservedAt');

  const severity = f.Severity as Record<string, unknown> | undefined;
  if (!severity || typeof severity.Label !== 'string' || !SEVERITY_LABELS.has(severity.Label))
    fail('Severity.Label', `must be one of ${[...SEVERITY_LABELS].join(', ')}, got ${JSON.stringify(severity?.Label)}`);
  text('Severity.Original', severity!.Original, 64, false);
  text('Title', f.Title, ASFF_LIMITS.title);
  text('Description', f.Description, ASFF_LIMITS.description);

  const recommendation = (f.Remediation as { Recommendation?: Record<string, unknown> } | undefined)?.Recommendation;
  if (recommendation) {
    text('Remediation.Recommendation.Text', recommendation.Text, ASFF_LIMITS.recommendationText, false);
    if (recommendation.Url !== undefined && (typeof recommendation.Url !== 'string' || !/^https:\/\/\S+$/.test(recommendation.Url)))
      fail('Remediation.Recommendation.Url', `must be an https URL, got ${JSON.stringify(recommendation.Url)}`);
  }

  if (f.ProductFields !== undefined) {
    const entries = Object.entries(f.ProductFields as Record<string, unknown>);
    if (entries.length > ASFF_LIMITS.productFields)
      fail('ProductFields', `has ${entries.length} entries; the limit is ${ASFF_LIMITS.productFields}`);
    for (const [key, value] of entries) {
      text(`ProductFields key ${JSON.stringify(key.slice(0, 40))}`, key, ASFF_LIMITS.productFieldKey);
      if (key.startsWith('aws/')) fail(`ProductFields.${key}`, 'uses the aws/ prefix, which Security Hub reserves');
      text(`ProductFields.${key}`, value, ASFF_LIMITS.productFieldValue);
    }
  }

  if (!Array.isArray(f.Resources) || f.Resources.length === 0) fail('Resources', 'must list at least one resource');
  const resources = f.Resources as Record<string, unknown>[];
  if (resources.length > ASFF_LIMITS.resources)
    fail('Resources', `lists ${resources.length} resources; the limit is ${ASFF_LIMITS.resources}`);
  resources.forEach((r, i) => {
    if (typeof r?.Type !== 'string' || !RESOURCE_TYPES.has(r.Type))
      fail(`Resources[${i}].Type`, `must be one of ${[...RESOURCE_TYPES].join(', ')}, got ${JSON.stringify(r?.Type)}`);
    text(`Resources[${i}].Id`, r.Id, 2048);
    if (
      r.Partition !== undefined &&
      !['aws', 'aws-cn', 'aws-us-gov'].includes(r.Partition as string) &&
      !/^aws-iso/.test(String(r.Partition))
    )
      fail(`Resources[${i}].Partition`, `is not a partition: ${JSON.stringify(r.Partition)}`);
    if (r.Region !== undefined && (typeof r.Region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(r.Region)))
      fail(`Resources[${i}].Region`, `must be a region name, got ${JSON.stringify(r.Region)}`);
  });

  const compliance = f.Compliance as Record<string, unknown> | undefined;
  if (!compliance || typeof compliance.Status !== 'string' || !COMPLIANCE_STATUSES.has(compliance.Status))
    fail('Compliance.Status', `must be one of ${[...COMPLIANCE_STATUSES].join(', ')}, got ${JSON.stringify(compliance?.Status)}`);
  if (compliance!.RelatedRequirements !== undefined) {
    const reqs = compliance!.RelatedRequirements;
    if (!Array.isArray(reqs) || reqs.length > ASFF_LIMITS.relatedRequirements)
      fail('Compliance.RelatedRequirements', `must be a list of at most ${ASFF_LIMITS.relatedRequirements}`);
    for (const [i, r] of (reqs as unknown[]).entries()) text(`Compliance.RelatedRequirements[${i}]`, r, 256);
  }
  if (
    compliance!.SecurityControlId !== undefined &&
    (typeof compliance!.SecurityControlId !== 'string' || !/^[A-Za-z0-9]+\.\d+$/.test(compliance!.SecurityControlId))
  ) {
    fail(
      'Compliance.SecurityControlId',
      `must be a Security Hub control ID such as IAM.4, got ${JSON.stringify(compliance!.SecurityControlId)}`,
    );
  }
  if (f.RecordState !== undefined && f.RecordState !== 'ACTIVE' && f.RecordState !== 'ARCHIVED')
    fail('RecordState', `must be ACTIVE or ARCHIVED, got ${JSON.stringify(f.RecordState)}`);
  if (f.Workflow !== undefined) {
    const status = (f.Workflow as Record<string, unknown>)?.Status;
    if (!['NEW', 'NOTIFIED', 'RESOLVED', 'SUPPRESSED'].includes(status as string))
      fail('Workflow.Status', `must be NEW, NOTIFIED, RESOLVED or SUPPRESSED, got ${JSON.stringify(status)}`);
  }
}

/** Converts and validates: what `--format asff` prints and the sync sends. */
export function toValidAsff(item: ExportedFinding, target: AsffTarget): AsffFinding {
  const finding = toAsff(item, target);
  validateAsff(finding);
  return finding;
}
