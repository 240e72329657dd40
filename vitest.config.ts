import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The 5,000-user scale test builds a large fixture; keep a generous ceiling, not a timing target.
    testTimeout: 60_000,
  },
});
