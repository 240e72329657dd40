/**
 * Throttling and transient faults at the SDK boundary: every call goes through the SDK's real
 * middleware stack and retry strategy (test/support/sdk-boundary.ts), with faults answered where the HTTP
 * response would be parsed. The strategies are the SDK's own classes; only their backoff is zero,
 * so that the tests do not sleep (the SDK's own backoff is exercised once, for transient faults).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CheckId } from '#lib/checks/catalogue.ts';
import { ALL_CHECKS } from '#test/checks.ts';
import type { Finding, Status } from '#lib/model/finding.ts';
import type { LiveOptions } from '#lib/inventory/live.ts';
import { type AwsRetryMode, awsRetryConfig, parseSettings } from '#lib/settings.ts';
import { FIXTURE_ACCOUNT_ID } from '#test/aws.ts';
import { resetAws } from '#test/mock-aws.ts';
import {
  auditThroughSdk as audit,
  FAULT_KINDS,
  type FaultKind,
  fastRetry,
  SDK_REGION,
  type SdkRun as Run,
  type Service,
  sources,
  unreadSources,
} from '#test/sdk-boundary.ts';
import { serveSmallAccount } from '#test/small-account.ts';

const REGION = SDK_REGION;

/** A call as the collector made it: service, API and input, whatever its attempts. */
const callKey = (c: { service: Service; command: string; input: unknown }): string =>
  `${c.service}:${c.command} ${JSON.stringify(c.input)}`;

const byCheck = (findings: Finding[], checkId: CheckId): Finding[] => findings.filter((f) => f.checkId === checkId);

beforeEach(() => {
  resetAws(REGION);
  serveSmallAccount(REGION);
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the retry settings', () => {
  it('default to 3 attempts in standard mode, and reject what the SDK should not be asked, naming the field', () => {
    expect(awsRetryConfig(parseSettings({}))).toEqual({ maxAttempts: 3, retryMode: 'standard' });
    expect(awsRetryConfig(parseSettings({ awsMaxAttempts: 10, awsRetryMode: 'adaptive' }))).toEqual({
      maxAttempts: 10,
      retryMode: 'adaptive',
    });
    for (const [input, field] of [
      [{ awsMaxAttempts: 0 }, 'awsMaxAttempts'],
      [{ awsMaxAttempts: 11 }, 'awsMaxAttempts'],
      [{ awsMaxAttempts: 2.5 }, 'awsMaxAttempts'],
      [{ awsMaxAttempts: '3' }, 'awsMaxAttempts'],
      [{ awsRetryMode: 'legacy' }, 'awsRetryMode'],
    ] as const) {
      expect(() => parseSettings(input), JSON.stringify(input)).toThrow(new RegExp(`invalid settings: ${field}: `));
    }
  });
});

describe('the SDK boundary', () => {
  it('a clean run: one attempt per call, the attempt bound from the settings, and the expected verdicts', async () => {
    const clean = await audit();
    expect(unreadSources(clean.inventory)).toEqual([]);
    expect(clean.inventory.accountId).toBe(FIXTURE_ACCOUNT_ID);
    expect(clean.calls.map((c) => `${c.service}:${c.command}`).sort()).toEqual(
      [
        'dax:DescribeClusters',
        'elasticache:DescribeCacheClusters',
        'elasticache:DescribeReplicationGroups',
        'iam:GenerateCredentialReport',
        'iam:GetAccountAuthorizationDetails',
        'iam:GetAccountSummary',
        'iam:GetCredentialReport',
        'iam:ListAccessKeys',
        'sts:GetCallerIdentity',
      ].sort(),
    );
    // The header is written by the SDK's retry middleware: `attempt=1; max=3` on every call.
    expect(clean.attempts.every((a) => a.attempt === 1 && a.max === 3 && a.outcome === 'ok')).toBe(true);
    const verdicts = clean.findings.map((f) => `${f.checkId} ${f.resource.replace(/^arn:aws:[a-z]+:[a-z0-9-]*:\d{12}:/, '')} ${f.status}`);
    expect(verdicts).toEqual([
      'root-access-key root PASS',
      'access-key-age user/alice#access_key_1 PASS',
      'access-key-age user/bob#access_key_1 FAIL',
      'user-full-access user/alice FAIL',
      'user-full-access user/bob PASS',
      'elasticache-service-linked-role role/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache WARN',
      'dax-service-role cache/orders PASS',
      'dax-service-role role/* PASS',
      'role-full-access role/service-role/DaxToDynamoDB PASS',
    ]);
  });

  it('awsMaxAttempts reaches the retry middleware of every client; the maxAttempts option overrides it', async () => {
    const fromSettings = await audit({ awsMaxAttempts: 7 });
    expect(new Set(fromSettings.attempts.map((a) => a.max))).toEqual(new Set([7]));
    expect(new Set(fromSettings.attempts.map((a) => a.service))).toEqual(new Set(['iam', 'sts', 'elasticache', 'dax']));
    const overridden = await audit({ awsMaxAttempts: 7 }, undefined, { maxAttempts: 2 });
    expect(new Set(overridden.attempts.map((a) => a.max))).toEqual(new Set([2]));
  });
});

describe('faults before success are retried by the SDK: the findings equal a clean run', () => {
  const cases: { kind: FaultKind; awsMaxAttempts: number; awsRetryMode: AwsRetryMode }[] = FAULT_KINDS.flatMap((kind) => [
    { kind, awsMaxAttempts: 3, awsRetryMode: 'standard' as const },
    { kind, awsMaxAttempts: 6, awsRetryMode: 'standard' as const },
  ]);
  // Adaptive mode classifies and retries alike, with its rate limiter in the loop.
  cases.push({ kind: FAULT_KINDS[0]!, awsMaxAttempts: 4, awsRetryMode: 'adaptive' });

  it.each(cases)(
    '$kind.name, awsMaxAttempts - 1 times on every call ($awsMaxAttempts, $awsRetryMode)',
    async ({ kind, awsMaxAttempts, awsRetryMode }) => {
      const clean = await audit();
      const faults = awsMaxAttempts - 1;
      const built: string[] = [];
      const retryStrategy: LiveOptions['retryStrategy'] = (retry) => {
        built.push(`${retry.retryMode} ${retry.maxAttempts}`);
        return fastRetry(retry);
      };
      const run = await audit({ awsMaxAttempts, awsRetryMode }, (a) => (a.attempt <= faults ? kind.make(a.service) : undefined), {
        retryStrategy,
      });
      // One strategy per client (STS, IAM, ElastiCache, DAX, and the region probe), from the settings.
      expect(built).toEqual(Array.from({ length: 5 }, () => `${awsRetryMode} ${awsMaxAttempts}`));

      expect(unreadSources(run.inventory)).toEqual([]);
      expect(run.inventory).toEqual(clean.inventory);
      expect(run.findings).toEqual(clean.findings);
      // The same calls as the clean run, each answered on its last allowed attempt, after its faults.
      expect(run.calls.map(callKey).sort()).toEqual(clean.calls.map(callKey).sort());
      for (const call of run.calls) {
        expect(call, callKey(call)).toMatchObject({ attempts: awsMaxAttempts, outcome: 'ok' });
        const outcomes = run.attempts.filter((a) => a.call === call.call).map((a) => a.outcome);
        expect(outcomes).toEqual([...Array.from({ length: faults }, () => kind.code(call.service)), 'ok']);
      }
    },
  );

  it("the SDK's own strategy (no test strategy, its real backoff) retries transient faults within the settings' bound", async () => {
    const clean = await audit();
    const [, , unavailable] = FAULT_KINDS;
    const run = await audit({ awsMaxAttempts: 2 }, (a) => (a.attempt === 1 ? unavailable!.make(a.service) : undefined), {
      retryStrategy: undefined,
    });
    expect(run.findings).toEqual(clean.findings);
    expect(run.calls.every((c) => c.attempts === 2 && c.outcome === 'ok')).toBe(true);
    expect(new Set(run.attempts.map((a) => a.max))).toEqual(new Set([2]));
  });
});

/**
 * A call that fails on every attempt. `affected`: the statuses each check affected must end with
 * (the others must equal the clean run's findings exactly); every ERROR among them names the code.
 */
interface Target {
  service: Service;
  command: string;
  /** The source(s) left unread, by the name `sources()` gives them. */
  unread: string[];
  affected: Partial<Record<CheckId, Status[]>>;
  /** What the statuses alone do not say. */
  also?: (run: Run, code: string) => void;
}

const reportTarget = (command: 'GenerateCredentialReport' | 'GetCredentialReport'): Target => ({
  service: 'iam',
  command,
  unread: ['credentialReport'],
  // The key ages come only from the report. Root's key count is real-time in the summary, which
  // still decides (PASS here), and says the report could not be read.
  affected: { 'access-key-age': ['ERROR'], 'root-access-key': ['PASS'] },
  also: (run, code) => {
    const [root] = byCheck(run.findings, 'root-access-key');
    expect(root!.details.reportUnread).toMatchObject({ call: `iam:${command}`, code });
    expect(run.calls.some((c) => c.command === 'ListAccessKeys')).toBe(false);
  },
});

const TARGETS: Target[] = [
  { service: 'iam', command: 'GetAccountSummary', unread: ['accountSummary'], affected: { 'root-access-key': ['ERROR'] } },
  reportTarget('GenerateCredentialReport'),
  reportTarget('GetCredentialReport'),
  {
    service: 'iam',
    command: 'GetAccountAuthorizationDetails',
    unread: ['authorizationDetails'],
    affected: {
      'user-full-access': ['ERROR'],
      'elasticache-service-linked-role': ['ERROR'],
      'dax-service-role': ['ERROR', 'ERROR'],
      'role-full-access': ['ERROR'],
    },
  },
  {
    // The lookup only names the key: bob's key stays FAIL on the report's age, never PASS.
    service: 'iam',
    command: 'ListAccessKeys',
    unread: ['accessKeys.bob'],
    affected: { 'access-key-age': ['FAIL', 'PASS'] },
    also: (run, code) => {
      const bob = byCheck(run.findings, 'access-key-age').find((f) => f.resource.endsWith('user/bob#access_key_1'))!;
      expect(bob.status).toBe('FAIL');
      expect(bob.details.keyIdLookup).toMatchObject({ call: 'iam:ListAccessKeys', code });
    },
  },
  {
    service: 'elasticache',
    command: 'DescribeCacheClusters',
    unread: [`${REGION}.elastiCache`],
    affected: { 'elasticache-service-linked-role': ['ERROR'] },
  },
  {
    service: 'elasticache',
    command: 'DescribeReplicationGroups',
    unread: [`${REGION}.elastiCache`],
    affected: { 'elasticache-service-linked-role': ['ERROR'] },
  },
  {
    // The cluster's finding cannot be made; the account-level PASS rests on the trust policies alone.
    service: 'dax',
    command: 'DescribeClusters',
    unread: [`${REGION}.dax`],
    affected: { 'dax-service-role': ['ERROR', 'PASS'] },
    also: (run) => expect(byCheck(run.findings, 'dax-service-role').find((f) => f.status === 'PASS')!.resource).toMatch(/:role\/\*$/),
  },
  {
    // No source needs it: the account ID comes from the credential report instead.
    service: 'sts',
    command: 'GetCallerIdentity',
    unread: [],
    affected: {},
    also: (run) => expect(run.inventory.accountId).toBe(FIXTURE_ACCOUNT_ID),
  },
];

describe('faults beyond the attempt bound: the checks that need the call are ERROR, naming the code', () => {
  const cases = FAULT_KINDS.flatMap((kind) => TARGETS.map((target) => ({ kind, target, label: `${target.service}:${target.command}` })));

  it.each(cases)('$kind.name on every attempt of $label', async ({ kind, target }) => {
    const clean = await audit();
    const run = await audit({}, (a) => (a.service === target.service && a.command === target.command ? kind.make(a.service) : undefined));
    const code = kind.code(target.service);

    // The SDK tried exactly awsMaxAttempts (3) times, then the collector recorded the failure.
    const failed = run.calls.filter((c) => c.service === target.service && c.command === target.command);
    expect(failed.length).toBeGreaterThan(0);
    for (const call of failed) expect(call).toMatchObject({ attempts: 3, outcome: code });
    expect(unreadSources(run.inventory)).toEqual(target.unread);
    for (const [name, source] of sources(run.inventory)) {
      if (!target.unread.includes(name)) continue;
      expect(source).toMatchObject({ state: 'unread', call: `${target.service}:${target.command}`, code });
      expect(source.state === 'unread' && source.reason).toContain('(gave up after 3 attempts)');
    }

    for (const check of ALL_CHECKS) {
      const findings = byCheck(run.findings, check.id);
      const expected = target.affected[check.id];
      if (!expected) {
        expect(findings, check.id).toEqual(byCheck(clean.findings, check.id));
        continue;
      }
      expect(findings.map((f) => f.status).sort(), check.id).toEqual([...expected].sort());
      for (const f of findings.filter((x) => x.status === 'ERROR')) {
        expect(f.title, check.id).toContain(`(${code})`);
        expect(JSON.stringify(f.details), check.id).toContain(code);
      }
    }
    target.also?.(run, code);
  });
});
