import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Projects, by what a test file needs (not by its folder): `npm run test:<project>` runs one,
 * `npm test` runs them all. A new file is `unit` unless listed below, so it must then be pure:
 * no server, no SDK mock, no child process, no CDK synth.
 */
export const INTEGRATION = [
  // dynalite: a table per test on the worker's server (#test/dynalite.ts), or the CLI's own store on disk
  'test/audit/pipeline-store.test.ts',
  'test/audit/organization-report-store.test.ts',
  'test/audit/organization-pending.test.ts',
  'test/export/asff-ocsf.test.ts',
  'test/functions/*.test.ts',
  'test/securityhub/*.test.ts',
  'test/store/*.test.ts',
  // the CLI with state, or spawned as a process
  'test/cli/bin.test.ts',
  'test/cli/kill.test.ts',
  'test/cli/organization.test.ts',
  'test/cli/permissions.test.ts',
  'test/cli/run-org.test.ts',
  'test/cli/run-org-live.test.ts',
  'test/cli/state.test.ts',
  'test/cli/store-failures.test.ts',
  // AWS SDK clients mocked with aws-sdk-client-mock (#test/mock-aws.ts, #test/sdk-boundary.ts)
  'test/inventory/integrity.test.ts',
  'test/inventory/live.test.ts',
  'test/inventory/report-failures.test.ts',
  'test/inventory/retries.test.ts',
  'test/inventory/scale.test.ts',
  'test/inventory/time-budget.test.ts',
  'test/notify/sns.test.ts',
  // Organizations faked at the SDK boundary (#test/mock-organizations.ts)
  'test/organization/accounts.test.ts',
  'test/organization/discover.test.ts',
  'test/organization/guardrails.test.ts',
  'test/organization/member-credentials.test.ts',
];
export const INFRA = ['test/infra/**/*.test.ts'];
export const PROPERTY = ['test/property/**/*.test.ts', 'test/reference/**/*.test.ts'];
export const E2E = ['test/e2e/**/*.test.ts'];

/** Seconds a file takes here, for a run without timings from an earlier one (a clean clone). */
const SLOW_WITHOUT_TIMINGS: Record<string, number> = {
  'test/cli/kill.test.ts': 40,
  'test/property/policy.property.test.ts': 22,
  'test/property/effective-access.property.test.ts': 15,
  'test/infra/stack.test.ts': 15,
  'test/functions/audit.test.ts': 10,
};

/**
 * Longest file first, across projects: Vitest's own order takes one project's files after
 * another's, so a long file of the last project would start last and run alone.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    const seconds = (spec: TestSpecification): number => {
      const path = relative(this.ctx.config.root, spec.moduleId);
      const ms = this.ctx.cache.getFileTestResults(`${spec.project.name}:${path}`)?.duration;
      return ms !== undefined ? ms / 1000 : (SLOW_WITHOUT_TIMINGS[path] ?? 0);
    };
    return ordered
      .map((spec, index) => ({ spec, index, seconds: seconds(spec) }))
      .sort((a, b) => b.seconds - a.seconds || a.index - b.index)
      .map(({ spec }) => spec);
  }
}

export default defineConfig({
  test: {
    // The 5,000-user scale test builds a large fixture; keep a generous ceiling, not a timing target.
    testTimeout: 60_000,
    // Vitest's default leaves one core to its main process, which mostly waits: on two cores that
    // would run the files one at a time.
    maxWorkers: availableParallelism(),
    setupFiles: ['test/support/setup.ts'],
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        // Pure: checks, policy, reconcile, parsers and the in-process CLI without state. They share
        // one module graph per worker (no isolation): nothing in them mocks or stubs a module.
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...INTEGRATION, ...INFRA, ...PROPERTY, ...E2E],
          pool: 'threads',
          isolate: false,
        },
      },
      {
        // Isolated: SDK mocks patch the clients' prototypes for their file. Threads start faster
        // than processes; the CDK's bundling needs a process's stdio, so infra keeps forks.
        extends: true,
        test: {
          name: 'integration',
          include: INTEGRATION,
          globalSetup: ['test/support/dynalite-setup.ts', 'test/support/build-cli.ts'],
          pool: 'threads',
        },
      },
      {
        // CDK synth of the stack and the Lambda bundle.
        extends: true,
        test: { name: 'infra', include: INFRA },
      },
      {
        // fast-check properties and the IAM reference evaluator; CI replays fixed seeds (.ci/run).
        extends: true,
        test: { name: 'property', include: PROPERTY, pool: 'threads' },
      },
      {
        // Against the moto AWS emulator (test/e2e/README.md): one server for the run, started by the
        // global setup; the files share it one at a time, each resetting it first.
        extends: true,
        test: {
          name: 'e2e',
          include: E2E,
          globalSetup: ['test/e2e/harness/global-setup.ts'],
          fileParallelism: false,
          maxWorkers: 1,
          testTimeout: 120_000,
          // Every client the tests make names moto's endpoint and its own keys; should one fall back
          // to the default chain anyway, it finds dummy keys and no profile, file or instance role.
          env: {
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
            AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
            AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
            AWS_SESSION_TOKEN: '',
            AWS_PROFILE: '',
            AWS_CONFIG_FILE: '/nonexistent/aws-config',
            AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
            AWS_EC2_METADATA_DISABLED: 'true',
          },
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
