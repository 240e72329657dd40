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
          testTimeout: 120_000,
          env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
