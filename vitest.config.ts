import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          // Unit tests wait on nothing external, but a loaded machine can stretch a heavy table
          // (the planner's traffic traces) past vitest's default 5 s.
          testTimeout: 60_000,
          include: ['lib/**/*.test.ts', 'functions/**/*.test.ts', 'bridge/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/docs/**/*.test.ts', 'test/repo/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // CLI tests run on fixtures and the simulator, docs and repository tests read files: they are unit tests
          exclude: ['test/cli/**/*.test.ts', 'test/docs/**/*.test.ts', 'test/repo/**/*.test.ts'],
          globalSetup: ['test/cluster/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // No blanket retry: it hides flakes. Each test sets up what it needs, so one test
          // runs (and fails) on its own.
          fileParallelism: false,
        },
      },
    ],
  },
});
