import { z } from 'zod';
import { CHECK_IDS, type CheckId } from '#lib/checks/catalogue.ts';
import { AuditorError } from '#lib/model/errors.ts';
import { type MapItem, mapItemSchema } from '#lib/organization/contract.ts';
import { severityRank } from '#lib/model/finding.ts';
import { parseSettings, settingsSchema, type Settings } from '#lib/settings.ts';
import type { DeployedConfig } from './config.ts';

/**
 * The caller sent something the function will not run. Thrown before anything is read, written or
 * published; `problems` has one line per offending field, and the message lists them all.
 */
export class PayloadError extends AuditorError {
  override name = 'PayloadError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid payload: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

export type LambdaTrigger = 'schedule' | 'on-demand';

/** What one invocation will do, fully resolved against the deployment. */
export interface AuditRequest {
  trigger: LambdaTrigger;
  /** The deployed settings, narrowed by the payload. */
  settings: Settings;
  /** Evaluate and reconcile only: nothing written, nothing published. */
  dryRun: boolean;
  /** false: save the state but publish nothing. */
  notify: boolean;
  /** The EventBridge event's id and time, to find the invocation from the rule's side. */
  event?: { id: string | undefined; time: string | undefined };
  /** Organization mode: the Distributed Map item this invocation audits (one account of the run). */
  mapItem?: MapItem;
}

/** Keys only a Distributed Map item has (lib/organization/contract.ts): an event with either is parsed as one. */
const MAP_ITEM_KEYS = ['organizationRunId', 'account'] as const;

function isMapItemShaped(event: unknown): event is Record<string, unknown> {
  return typeof event === 'object' && event !== null && !Array.isArray(event) && MAP_ITEM_KEYS.some((key) => key in event);
}

/** The payload fields, and the settings a payload may narrow: everything else belongs to the deployment. */
const PAYLOAD_FIELDS = ['checks', 'dryRun', 'notify', 'settings'] as const;
const PAYLOAD_SETTINGS = ['maxKeyAgeDays', 'warnKeyAgeDays', 'keyIdLookups', 'regions', 'alertOn', 'minAlertSeverity'] as const;

/**
 * Names a caller might reach for to redirect results or credentials. They get a pointed refusal
 * instead of a bare "unknown field", so nobody concludes the spelling was the problem.
 */
const DESTINATION_KEYS = new Set([
  'table',
  'tablename',
  'tablearn',
  'topic',
  'topicarn',
  'destination',
  'output',
  'bucket',
  'queue',
  'queueurl',
  'webhook',
  'statedir',
  'store',
  'endpoint',
  'endpointurl',
  'region',
  'profile',
  'credentials',
  'rolearn',
  'accountid',
]);

/** Mutes hide findings from alerts: only the deployment (AUDITOR_SETTINGS) may set them, never a payload, dry run or not. */
const MUTE_KEYS = new Set(['mutes', 'mute', 'suppress', 'suppressions']);

/** How much each alert mode alerts: a run that saves state may only alert as much or more than deployed. */
const ALERT_ON_REACH = { new: 0, open: 1, always: 2 } as const;

const scheduledEventSchema = z.object({
  source: z.literal('aws.events'),
  'detail-type': z.literal('Scheduled Event'),
  id: z.string().optional(),
  time: z.string().optional(),
});

/** Every key EventBridge puts on a scheduled event; its `detail` is always empty. */
const SCHEDULED_EVENT_KEYS = new Set(['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail']);

/**
 * Keys a scheduled-event-shaped payload carries that EventBridge never sends: on-demand fields
 * (`dryRun`, `settings`, `checks`…) riding on it would otherwise be dropped silently and the run
 * would go ahead with the deployed settings, saving and alerting.
 */
function foreignKeys(event: Record<string, unknown>): string[] {
  const keys = Object.keys(event).filter((key) => !SCHEDULED_EVENT_KEYS.has(key));
  const detail = event.detail;
  if (detail !== undefined && (detail === null || typeof detail !== 'object' || Array.isArray(detail))) keys.push('detail');
  else if (detail) keys.push(...Object.keys(detail).map((key) => `detail.${key}`));
  return keys;
}

function isEventBridgeShaped(event: unknown): event is Record<string, unknown> {
  return typeof event === 'object' && event !== null && !Array.isArray(event) && ('detail-type' in event || 'source' in event);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})` : typeof value;
}

/**
 * A value quoted in a refusal: as JSON, or by its kind where JSON.stringify throws (a BigInt, from an
 * in-process caller): that TypeError escaped parseEvent instead of its PayloadError.
 */
function shown(value: unknown): string {
  try {
    return String(JSON.stringify(value));
  } catch {
    return kindOf(value);
  }
}

/**
 * The on-demand payload's schema, bound to the deployment: bounds come from lib/settings.ts so the
 * two can never disagree, and the "only narrower" rules need the deployed values.
 */
function payloadSchema(deployed: DeployedConfig) {
  const base = settingsSchema.in.shape;
  const current = deployed.settings;
  const deployedChecks: readonly CheckId[] = current.checks.length > 0 ? current.checks : CHECK_IDS;
  const regionName = base.regions.unwrap().element;
  const deployedRegions = current.regions.length > 0 ? current.regions : deployed.defaultRegion ? [deployed.defaultRegion] : [];

  const settings = z
    .object({
      maxKeyAgeDays: base.maxKeyAgeDays.unwrap().optional(),
      warnKeyAgeDays: base.warnKeyAgeDays.unwrap().optional(),
      // More lookups means more IAM calls against a shared rate limit: the deployment sets the ceiling.
      keyIdLookups: z
        .number()
        .int()
        .min(0)
        .max(current.keyIdLookups, `Too big: must not exceed the deployed keyIdLookups (${current.keyIdLookups})`)
        .optional(),
      regions: base.regions
        .unwrap()
        .min(1, 'Too small: name at least one region, or leave regions out for the deployed ones')
        .superRefine((regions, ctx) => {
          regions.forEach((region, index) => {
            // A malformed name already has its own issue; "not deployed" on top would be noise.
            if (!regionName.safeParse(region).success) return;
            if (!deployedRegions.includes(region)) {
              ctx.addIssue({
                code: 'custom',
                path: [index],
                message: `${JSON.stringify(region)} is not a deployed region (${deployedRegions.join(', ') || 'none resolved'})`,
              });
            }
          });
        })
        .optional(),
      alertOn: base.alertOn.unwrap().optional(),
      minAlertSeverity: base.minAlertSeverity.unwrap().optional(),
    })
    .strict();

  return z
    .object({
      checks: z
        .array(z.enum(CHECK_IDS))
        .superRefine((checks, ctx) => {
          checks.forEach((id, index) => {
            if (!deployedChecks.includes(id)) {
              ctx.addIssue({
                code: 'custom',
                path: [index],
                message: `${JSON.stringify(id)} is not among the deployed checks (${deployedChecks.join(', ')})`,
              });
            }
          });
        })
        .optional(),
      dryRun: z.boolean().optional(),
      notify: z.boolean().optional(),
      settings: settings.optional(),
    })
    .strict()
    .superRefine((payload, ctx) => {
      const asked = payload.settings ?? {};
      const dryRun = payload.dryRun === true;
      const max = asked.maxKeyAgeDays ?? current.maxKeyAgeDays;
      if (asked.warnKeyAgeDays !== undefined && asked.warnKeyAgeDays > max) {
        ctx.addIssue({ code: 'custom', path: ['settings', 'warnKeyAgeDays'], message: `must not exceed maxKeyAgeDays (${max})` });
      }
      // A looser limit on a run that saves state would resolve findings the deployed policy still
      // calls non-compliant, and put that in their history: previewing one is fine, recording it is not.
      if (dryRun) return;
      if (asked.maxKeyAgeDays !== undefined && asked.maxKeyAgeDays > current.maxKeyAgeDays) {
        ctx.addIssue({
          code: 'custom',
          path: ['settings', 'maxKeyAgeDays'],
          message: `${asked.maxKeyAgeDays} is looser than the deployed ${current.maxKeyAgeDays}; a run that saves state may only tighten it (dryRun: true previews a looser one)`,
        });
      }
      if (asked.warnKeyAgeDays !== undefined && asked.warnKeyAgeDays > current.warnKeyAgeDays) {
        ctx.addIssue({
          code: 'custom',
          path: ['settings', 'warnKeyAgeDays'],
          message: `${asked.warnKeyAgeDays} is looser than the deployed ${current.warnKeyAgeDays}; a run that saves state may only tighten it (dryRun: true previews a looser one)`,
        });
      }
      // A finding a saving run does not alert is stored as known: the nightly run will not call it new, so it is never alerted.
      if (asked.minAlertSeverity !== undefined && severityRank(asked.minAlertSeverity) > severityRank(current.minAlertSeverity)) {
        ctx.addIssue({
          code: 'custom',
          path: ['settings', 'minAlertSeverity'],
          message: `${asked.minAlertSeverity} alerts less than the deployed ${current.minAlertSeverity}; a run that saves state may only lower it (dryRun: true previews a higher one)`,
        });
      }
      if (asked.alertOn !== undefined && ALERT_ON_REACH[asked.alertOn] < ALERT_ON_REACH[current.alertOn]) {
        ctx.addIssue({
          code: 'custom',
          path: ['settings', 'alertOn'],
          message: `${asked.alertOn} alerts less than the deployed ${current.alertOn}; a run that saves state may only widen it (new < open < always; dryRun: true previews a narrower one)`,
        });
      }
    });
}

type Payload = z.output<ReturnType<typeof payloadSchema>>;

function fieldName(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

/** One line per problem, each starting with the field it is about (`settings.maxKeyAgeDays: …`). */
function problemsOf(issues: readonly z.core.$ZodIssue[]): string[] {
  const problems: string[] = [];
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') {
      problems.push(`${fieldName(issue.path) || '(payload)'}: ${issue.message}`);
      continue;
    }
    const inSettings = issue.path.length > 0;
    for (const key of issue.keys) {
      const field = fieldName([...issue.path, key]);
      const normalized = key.toLowerCase().replace(/[^a-z]/g, '');
      if (MUTE_KEYS.has(normalized)) {
        problems.push(`${field}: not accepted; mutes hide findings, so only the deployment sets them (AUDITOR_SETTINGS), dry run or not`);
      } else if (DESTINATION_KEYS.has(normalized)) {
        problems.push(
          `${field}: not accepted; results always go to the deployed table and topic, read with the function's own role and region`,
        );
      } else if (inSettings) {
        problems.push(`${field}: not accepted in a payload; it may only set ${PAYLOAD_SETTINGS.join(', ')} (the rest is deployed)`);
      } else {
        problems.push(`${field}: unknown field; a payload may only have ${PAYLOAD_FIELDS.join(', ')}`);
      }
    }
  }
  return problems;
}

/**
 * The settings a run uses: the deployed ones, narrowed. A maximum key age given alone brings the
 * warning age down with it (8/9 of it, like the settings' own default), but never above the
 * deployed warning age: a payload that does not mention the warning age never loosens it.
 */
function narrow(current: Settings, payload: Payload): Settings {
  const asked = payload.settings ?? {};
  const warnKeyAgeDays =
    asked.warnKeyAgeDays ??
    (asked.maxKeyAgeDays !== undefined
      ? Math.min(current.warnKeyAgeDays, Math.round((asked.maxKeyAgeDays * 8) / 9))
      : current.warnKeyAgeDays);
  const checks = payload.checks && payload.checks.length > 0 ? [...new Set(payload.checks)] : current.checks;
  // Validated again as a whole, so a narrowed run can never hold settings the CLI would refuse.
  return parseSettings({ ...current, ...asked, warnKeyAgeDays, checks });
}

/**
 * Turns the invocation's event into a request: the EventBridge scheduled event runs the deployed
 * settings; anything else must be an on-demand payload `{ checks?, dryRun?, notify?, settings? }`
 * (`{}` runs like the schedule, but as on-demand). A payload can only narrow what the deployment
 * reads (checks, regions, key lookups) and tighten how strict it is (key ages, alert mode and
 * severity); a looser threshold is accepted only with dryRun, as a preview. Where results go
 * (table, topic) and mutes (they hide findings) are never its to choose, dry run or not.
 * In organization mode the state machine's Distributed Map hands over a map item
 * `{ organizationRunId, account }` instead: one account of the run, with the deployed settings.
 */
export function parseEvent(event: unknown, deployed: DeployedConfig): AuditRequest {
  if (isEventBridgeShaped(event)) {
    const scheduled = scheduledEventSchema.safeParse(event);
    if (!scheduled.success) {
      throw new PayloadError([
        `(event): only the EventBridge scheduled event is accepted (source "aws.events", detail-type "Scheduled Event"), got source ${shown(event.source)}, detail-type ${shown(event['detail-type'])}`,
      ]);
    }
    const foreign = foreignKeys(event);
    if (foreign.length > 0) {
      throw new PayloadError(
        foreign.map(
          (key) =>
            `${key}: not accepted in a scheduled event (EventBridge sends only ${[...SCHEDULED_EVENT_KEYS].join(', ')}, with an empty detail); send an on-demand payload { ${PAYLOAD_FIELDS.map((f) => `${f}?`).join(', ')} } on its own instead`,
        ),
      );
    }
    return {
      trigger: 'schedule',
      settings: deployed.settings,
      dryRun: false,
      notify: true,
      event: { id: scheduled.data.id, time: scheduled.data.time },
    };
  }
  if (isMapItemShaped(event)) {
    // The state machine's item: one account of the organization run, audited with the deployed settings.
    const item = mapItemSchema.safeParse(event);
    if (!item.success)
      throw new PayloadError(
        item.error.issues.map((issue) =>
          issue.code === 'unrecognized_keys'
            ? `${fieldName(issue.path) ? `${fieldName(issue.path)}.` : ''}${issue.keys.join(', ')}: not a field of a map item { organizationRunId, account: { id, name, roleArn, externalId?, guardrails? } }`
            : `${fieldName(issue.path) || '(map item)'}: ${issue.message}`,
        ),
      );
    return { trigger: 'schedule', settings: deployed.settings, dryRun: false, notify: true, mapItem: item.data };
  }
  // An invocation without a body reaches the handler as undefined: the same as `{}`.
  const body = event === undefined ? {} : event;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new PayloadError([
      `(payload): expected an object { ${PAYLOAD_FIELDS.map((f) => `${f}?`).join(', ')} } or the EventBridge scheduled event, got ${kindOf(body)}`,
    ]);
  }
  const parsed = payloadSchema(deployed).safeParse(body);
  if (!parsed.success) throw new PayloadError(problemsOf(parsed.error.issues));
  const payload = parsed.data;
  let settings: Settings;
  try {
    settings = narrow(deployed.settings, payload);
  } catch (error) {
    // Unreachable while the schema above mirrors lib/settings.ts; if they drift, still the caller's input.
    throw new PayloadError([`settings: ${(error as Error).message}`]);
  }
  return { trigger: 'on-demand', settings, dryRun: payload.dryRun ?? false, notify: payload.notify ?? true };
}
