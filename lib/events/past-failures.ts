/**
 * Runs pieces of a resync one after another, past the ones that fail: one Service or pool that
 * keeps failing must not starve the others. `rethrow` then throws the first failure (the
 * resync's outcome: retried), or returns when every piece took.
 */
export function pastFailures(): { attempt(work: () => Promise<void>): Promise<void>; rethrow(): void } {
  let failed = false;
  let failure: unknown;
  return {
    async attempt(work) {
      try {
        await work();
      } catch (e) {
        if (!failed) failure = e;
        failed = true;
      }
    },
    rethrow() {
      if (failed) throw failure;
    },
  };
}
