import { defineConfig } from 'vitest/config';

/**
 * Tests under test/ that wait on no cluster: the CLI's (fixtures and the simulator), the docs' and
 * the repository's (they read files), and the packet tracer's own.
 */
const UNIT_UNDER_TEST = ['test/cli/**/*.test.ts', 'test/docs/**/*.test.ts', 'test/repo/**/*.test.ts', 'test/tracer/**/*.test.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          // Unit tests wait on nothing external, but a loaded machine can stretch a heavy table
          // (the planner's traffic traces) past vitest's default 5 s.
          testTimeout: 60_000,
          include: ['lib/**/*.test.ts', 'functions/**/*.test.ts', 'bridge/**/*.test.ts', ...UNIT_UNDER_TEST],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: UNIT_UNDER_TEST,
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
