import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Real servers and child processes: keep parallelism modest on 2 cores.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
