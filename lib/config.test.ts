import { describe, expect, it } from 'vitest';
import { CLASS_VARIABLES, classesFromEnv, limitsFromEnv, portFromEnv, type Env } from './config.js';

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

describe('numbers from the environment: decimal digits only', () => {
  it.each([
    ['8080', 8080], [' 8443 ', 8443], ['0', 0],
  ])('PORT=%j is port %d', (value, port) => {
    expect(portFromEnv({ PORT: value }, 'PORT', 8080)).toEqual({ ok: true, value: port });
  });

  // Number() reads whitespace as 0 (a random port: the probes, and Knative, call the wrong one)
  // and takes hexadecimal and exponents that nobody means as a port
  it.each([
    [' ', 'PORT=" " must be a port number (0-65535)'],
    ['\t', 'PORT="\\t" must be a port number (0-65535)'],
    ['0x1f90', 'PORT="0x1f90" must be a port number (0-65535)'],
    ['8e3', 'PORT="8e3" must be a port number (0-65535)'],
    ['-1', 'PORT="-1" must be a port number (0-65535)'],
    ['65536', 'PORT="65536" must be a port number (0-65535)'],
    ['80.5', 'PORT="80.5" must be a whole number'],
  ])('PORT=%j is refused', (value, message) => {
    expect(portFromEnv({ PORT: value }, 'PORT', 8080)).toEqual({ ok: false, message });
  });

  it.each([
    [' ', 'MAX_ANNOTATION_ITEMS=" " must be a whole number'],
    ['0x10', 'MAX_ANNOTATION_ITEMS="0x10" must be a whole number'],
    ['1e2', 'MAX_ANNOTATION_ITEMS="1e2" must be a whole number'],
    ['-1', 'MAX_ANNOTATION_ITEMS="-1" must be at least 1'],
    ['2.5', 'MAX_ANNOTATION_ITEMS="2.5" must be a whole number'],
  ])('MAX_ANNOTATION_ITEMS=%j is refused', (value, message) => {
    expect(limitsFromEnv({ MAX_ANNOTATION_ITEMS: value })).toEqual({ ok: false, message });
  });

  it('takes a limit with spaces around it', () => {
    expect(limitsFromEnv({ MAX_ALLOCATIONS_PER_SERVICE: ' 4 ' })).toMatchObject({ ok: true, value: { maxAllocations: 4 } });
  });
});
