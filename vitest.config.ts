import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The 5,000-user scale test builds a large fixture; keep a generous ceiling, not a timing target.
    testTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/e2e/**'] },
      },
      {
        // Against the moto AWS emulator (test/e2e/README.md): one server for the run, started by the
        // global setup; the files share it one at a time, each resetting it first.
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
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
