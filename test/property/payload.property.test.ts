/**
 * Property-based test of the Lambda handler's payload validation (lib/lambda/event.ts): on any input
 * at all, parseEvent either throws its own PayloadError (one line per problem) or returns a request
 * that only narrows the deployment: a subset of its checks and regions, no more key lookups, no
 * looser thresholds or quieter alerts on a run that saves state, and nothing else changed.
 *
 * A failure prints fast-check's `{ seed, path }`; replay it with `fc.assert(..., { seed, path })`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHECK_IDS } from '#lib/checks/catalogue.ts';
import { severityRank } from '#lib/model/finding.ts';
import { loadConfig, type DeployedConfig } from '#lib/lambda/config.ts';
import { ENV } from '#lib/lambda/contract.ts';
import { parseEvent, PayloadError, type AuditRequest } from '#lib/lambda/event.ts';
import { parseSettings } from '#lib/settings.ts';

const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-2', 'us-gov-west-1'];
const SEVERITIES = ['critical', 'high', 'medium', 'low', 'informational'] as const;
const ALERT_ON = ['new', 'open', 'always'] as const;
const ALERT_REACH: Record<string, number> = { new: 0, open: 1, always: 2 };
/** The settings a payload may set; every other one is the deployment's alone. */
const NARROWABLE = new Set(['maxKeyAgeDays', 'warnKeyAgeDays', 'keyIdLookups', 'regions', 'alertOn', 'minAlertSeverity', 'checks']);

/** A deployment, through the real configuration path (environment variables, AUDITOR_SETTINGS JSON). */
const deployment: fc.Arbitrary<DeployedConfig> = fc
  .record({
    max: fc.integer({ min: 1, max: 3650 }),
    warnShare: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    regions: fc.subarray(REGIONS),
    checks: fc.subarray([...CHECK_IDS]),
    keyIdLookups: fc.integer({ min: 0, max: 1000 }),
    alertOn: fc.constantFrom(...ALERT_ON),
    minAlertSeverity: fc.constantFrom(...SEVERITIES),
    defaultRegion: fc.option(fc.constantFrom(...REGIONS), { nil: undefined }),
  })
  .map(({ max, warnShare, defaultRegion, ...rest }) =>
    loadConfig({
      [ENV.tableName]: 'findings',
      [ENV.topicArn]: 'arn:aws:sns:us-east-1:123456789012:alerts',
      [ENV.settings]: JSON.stringify({
        maxKeyAgeDays: max,
        ...(warnShare === undefined ? {} : { warnKeyAgeDays: Math.floor(max * warnShare) }),
        ...rest,
      }),
      ...(defaultRegion ? { AWS_REGION: defaultRegion } : {}),
    }),
  );

/** Values near what a field wants, and far from it. */
const fieldValue = fc.oneof(
  fc.constantFrom<unknown>(
    true,
    false,
    0,
    -1,
    1,
    30,
    80,
    90,
    365,
    1000,
    3651,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    -0,
    null,
    undefined,
    '',
    '90',
    'new',
    'open',
    'always',
    'critical',
    'high',
    'low',
    'informational',
    'us-east-1',
    'eu-west-1',
    'mars-north-1',
    'US-EAST-1',
    [],
    ['us-east-1'],
    ['eu-west-1', 'us-east-1'],
    ['user-full-access'],
    ['user-full-access', 'user-full-access'],
    ['nope'],
    [1],
    {},
  ),
  fc.constantFrom(...CHECK_IDS).map((id) => [id]),
  fc.jsonValue({ maxDepth: 2 }),
);

const settingKey = fc.constantFrom(
  'maxKeyAgeDays',
  'warnKeyAgeDays',
  'keyIdLookups',
  'regions',
  'alertOn',
  'minAlertSeverity',
  'checks',
  'mutes',
  'historyTtlDays',
  'reportWaitSeconds',
  'awsMaxAttempts',
  'tableName',
  'topicArn',
  'Region',
  'profile',
  'endpoint_url',
  '__proto__',
  'constructor',
);
const payloadKey = fc.constantFrom(
  'checks',
  'dryRun',
  'notify',
  'settings',
  'table',
  'topic',
  'mutes',
  'source',
  'detail-type',
  '__proto__',
  'toString',
  'DryRun',
);

/** On-demand payloads: the right fields with values of every kind, and the wrong fields. */
const structured = fc.dictionary(payloadKey, fc.oneof(fieldValue, fc.dictionary(settingKey, fieldValue, { maxKeys: 5 })), { maxKeys: 5 });

/** Near-valid on-demand payloads, so that the success path is exercised as much as the refusals. */
const plausible = fc.record(
  {
    checks: fc.subarray([...CHECK_IDS]),
    dryRun: fc.boolean(),
    notify: fc.boolean(),
    settings: fc.record(
      {
        maxKeyAgeDays: fc.integer({ min: 1, max: 3650 }),
        warnKeyAgeDays: fc.integer({ min: 0, max: 3650 }),
        keyIdLookups: fc.integer({ min: 0, max: 1000 }),
        regions: fc.subarray(REGIONS, { minLength: 1 }),
        alertOn: fc.constantFrom(...ALERT_ON),
        minAlertSeverity: fc.constantFrom(...SEVERITIES),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

/** EventBridge-shaped events, scheduled or not. */
const eventBridge = fc.record(
  {
    source: fc.oneof(fc.constantFrom<unknown>('aws.events', 'aws.s3', 'AWS.EVENTS'), fieldValue),
    'detail-type': fc.oneof(fc.constantFrom<unknown>('Scheduled Event', 'Object Created', 'scheduled event'), fieldValue),
    id: fc.oneof(fc.uuid(), fieldValue),
    time: fc.oneof(
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
      fieldValue,
    ),
    detail: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);

/** Anything JavaScript can hold, beyond JSON: BigInt, Map, Set, boxed values, dates, typed arrays, null prototypes. */
const anythingAtAll = fc.anything({
  maxDepth: 3,
  maxKeys: 5,
  key: fc.oneof(payloadKey, settingKey, fc.string({ unit: 'binary', maxLength: 8 })),
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  stringUnit: 'binary',
});

const anyEvent = fc.oneof(
  { weight: 3, arbitrary: anythingAtAll },
  { weight: 2, arbitrary: fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }) },
  { weight: 3, arbitrary: structured },
  { weight: 3, arbitrary: plausible },
  { weight: 2, arbitrary: eventBridge },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, {}, [], '', '{}', 0) },
);

/** The deployment's effective checks and regions (empty = all checks, or the function's own region). */
const effectiveChecks = (checks: readonly string[]) => (checks.length > 0 ? checks : CHECK_IDS);
const effectiveRegions = (regions: readonly string[], deployed: DeployedConfig) =>
  regions.length > 0 ? regions : deployed.defaultRegion ? [deployed.defaultRegion] : [];

function expectOnlyNarrows(request: AuditRequest, deployed: DeployedConfig, event: unknown): void {
  const before = deployed.settings;
  const after = request.settings;
  expect(typeof request.dryRun).toBe('boolean');
  expect(typeof request.notify).toBe('boolean');
  // Whatever it holds, it is a valid settings object.
  expect(parseSettings(after)).toEqual(after);

  if (request.trigger === 'schedule') {
    expect(event).toMatchObject({ source: 'aws.events', 'detail-type': 'Scheduled Event' });
    expect(after).toEqual(before);
    expect(request).toMatchObject({ dryRun: false, notify: true });
    return;
  }
  expect(request.trigger).toBe('on-demand');
  for (const id of effectiveChecks(after.checks)) expect(effectiveChecks(before.checks)).toContain(id);
  for (const r of effectiveRegions(after.regions, deployed)) expect(effectiveRegions(before.regions, deployed)).toContain(r);
  expect(after.keyIdLookups).toBeLessThanOrEqual(before.keyIdLookups);
  expect(after.warnKeyAgeDays).toBeLessThanOrEqual(after.maxKeyAgeDays);
  if (!request.dryRun) {
    // A run that saves state records what it found: only as strict, and as loud, as deployed.
    expect(after.maxKeyAgeDays).toBeLessThanOrEqual(before.maxKeyAgeDays);
    expect(after.warnKeyAgeDays).toBeLessThanOrEqual(before.warnKeyAgeDays);
    expect(severityRank(after.minAlertSeverity)).toBeLessThanOrEqual(severityRank(before.minAlertSeverity));
    expect(ALERT_REACH[after.alertOn]!).toBeGreaterThanOrEqual(ALERT_REACH[before.alertOn]!);
  }
  // Where results go, how long history lives, what is muted, how the collector calls AWS: deployed only.
  for (const key of Object.keys(before) as (keyof typeof before)[]) {
    if (!NARROWABLE.has(key)) expect(after[key]).toEqual(before[key]);
  }
}

describe('parseEvent', () => {
  it('any input (10,000 runs): its own PayloadError, or a request that only narrows the deployment', () => {
    let accepted = 0;
    fc.assert(
      fc.property(deployment, anyEvent, (deployed, event) => {
        let request: AuditRequest;
        try {
          request = parseEvent(event, deployed);
        } catch (error) {
          expect(error).toBeInstanceOf(PayloadError);
          const problems = (error as PayloadError).problems;
          expect(problems.length).toBeGreaterThan(0);
          for (const p of problems) expect(typeof p).toBe('string');
          expect((error as Error).message).toBe(`invalid payload: ${problems.join('; ')}`);
          return;
        }
        accepted++;
        expectOnlyNarrows(request, deployed, event);
      }),
      { numRuns: 10_000 },
    );
    // The success path was exercised, not only the refusals.
    expect(accepted).toBeGreaterThan(500);
  });

  it('regression (property test): a BigInt in an EventBridge-shaped event is refused with a PayloadError, not a TypeError from JSON.stringify', () => {
    const deployed = loadConfig({ [ENV.tableName]: 'findings', [ENV.topicArn]: 'arn:aws:sns:us-east-1:123456789012:alerts' });
    expect(() => parseEvent({ source: 10n, 'detail-type': 'Scheduled Event' }, deployed)).toThrow(PayloadError);
    expect(() => parseEvent({ 'detail-type': [1n] }, deployed)).toThrow('got source undefined, detail-type an array');
  });
});
