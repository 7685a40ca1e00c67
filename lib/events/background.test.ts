import { describe, expect, it } from 'vitest';
import { inBackground } from './background.js';

describe('inBackground', () => {
  it('a failure before the await is not unhandled, and the await still sees it', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const pending = inBackground(Promise.reject(new Error('event refused')));
      await new Promise((r) => setTimeout(r, 20)); // the rejection settles while nobody awaits it
      await expect(pending).rejects.toThrow('event refused');
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
