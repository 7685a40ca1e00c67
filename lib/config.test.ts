import { describe, expect, it } from 'vitest';
import { CLASS_VARIABLES, classesFromEnv, type Env } from './config.js';

describe('CLASS_VARIABLES (what help texts list for classesFromEnv)', () => {
  it('names exactly the variables classesFromEnv reads', () => {
    const read = new Set<string>();
    const env: Env = new Proxy<Record<string, string | undefined>>({}, {
      get: (_, key) => {
        if (typeof key === 'string') read.add(key);
        return undefined;
      },
    });
    classesFromEnv(env);
    expect([...read].sort()).toEqual(Object.keys(CLASS_VARIABLES).sort());
  });

  it('gives each the value classesFromEnv takes when it is unset', () => {
    expect(classesFromEnv(CLASS_VARIABLES)).toEqual(classesFromEnv({}));
    expect(classesFromEnv({}).ok).toBe(true);
  });
});
