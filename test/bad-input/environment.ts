import { describe, expect, it } from 'vitest';
import { bridgeConfigFromEnv } from '../../bridge/config.js';
import { classesFromEnv, portFromEnv, routerFromEnv, type Env, type Parsed } from '../../lib/config.js';
import { snapshot, type Tally } from './support.js';

/**
 * The environment each entry point reads once: every bad value is one line that names the
 * variable (never an internal field, never a secret), instead of a silent default or a start
 * that fails later.
 */

const URLS = { FUNCTION_URL_ALLOCATE: 'http://allocate', FUNCTION_URL_PROGRAM: 'http://program', FUNCTION_URL_RELEASE: 'http://release' };
const ROUTER = { ROUTEROS_URL: 'api-ssl://192.0.2.1', ROUTEROS_USERNAME: 'mikrolb', ROUTEROS_PASSWORD: 's3cret-pw' };
const SECRET = 's3cret-pw';

type Reader = (env: Env) => Parsed<unknown>;
const port: Reader = (env) => portFromEnv(env, 'PORT', 8080);
const bridge: Reader = (env) => {
  const r = bridgeConfigFromEnv({ ...URLS, ...env });
  return r.ok ? { ok: true, value: r.config } : r;
};
const router: Reader = (env) => routerFromEnv({ ...ROUTER, ...env });

/** [story, reader, environment, the variable the line starts with] */
type EnvCase = [string, Reader, Env, string];

const CASES: EnvCase[] = [
  ['PORT with a space inside (Number() reads only whitespace as port 0: a random one)', port, { PORT: '80 80' }, 'PORT'],
  ['PORT in hexadecimal', port, { PORT: '0x1f90' }, 'PORT'],
  ['PORT with an exponent', port, { PORT: '8e3' }, 'PORT'],
  ['PORT past 65535', port, { PORT: '99999' }, 'PORT'],
  ['MAX_ANNOTATION_ITEMS with a tab inside', classesFromEnv, { MAX_ANNOTATION_ITEMS: '1\t6' }, 'MAX_ANNOTATION_ITEMS'],
  ['MAX_ALLOCATIONS_PER_SERVICE in hexadecimal', classesFromEnv, { MAX_ALLOCATIONS_PER_SERVICE: '0x10' }, 'MAX_ALLOCATIONS_PER_SERVICE'],
  ['LOAD_BALANCER_DEFAULT "yes"', classesFromEnv, { LOAD_BALANCER_DEFAULT: 'yes' }, 'LOAD_BALANCER_DEFAULT'],
  ['MIKROLB_CLUSTER_NAME with spaces', classesFromEnv, { MIKROLB_CLUSTER_NAME: ' prod ' }, 'MIKROLB_CLUSTER_NAME'],
  ['RESYNC_INTERVAL under a millisecond', bridge, { RESYNC_INTERVAL: '0.0001ms' }, 'RESYNC_INTERVAL'],
  ['FUNCTION_CONCURRENCY past 2^53', bridge, { FUNCTION_CONCURRENCY: '99999999999999999999' }, 'FUNCTION_CONCURRENCY'],
  ['LEASE_NAME that is no object name', bridge, { LEASE_NAME: 'Bridge Lease' }, 'LEASE_NAME'],
  ['LEASE_NAMESPACE that is no namespace', bridge, { LEASE_NAMESPACE: 'mikrolb.system' }, 'LEASE_NAMESPACE'],
  ['a function URL without a host', bridge, { FUNCTION_URL_PROGRAM: 'http://' }, 'FUNCTION_URL_PROGRAM'],
  ['ROUTEROS_URL with the password in it', router, { ROUTEROS_URL: `api://mikrolb:${SECRET}@192.0.2.1` }, 'ROUTEROS_URL'],
  ['ROUTEROS_URL with port 0', router, { ROUTEROS_URL: 'api://192.0.2.1:0' }, 'ROUTEROS_URL'],
  ['ROUTEROS_URL with a zone id', router, { ROUTEROS_URL: 'api://[fe80::1%25ether1]' }, 'ROUTEROS_URL'],
  ['ROUTEROS_CA_CERT that is no PEM', router, { ROUTEROS_CA_CERT: SECRET }, 'ROUTEROS_CA_CERT'],
];

export function environmentCases(count: Tally): void {
  count.add('environment', CASES.length);
  describe('the environment: one line naming the variable, never a secret', () => {
    it.each(CASES)('%s', (_story, read, env, variable) => {
      const before = snapshot(env);
      const result = read(env);
      expect(result.ok).toBe(false);
      const message = result.ok ? '' : result.message;
      expect(message.startsWith(variable), message).toBe(true);
      expect(message).not.toContain('\n');
      expect(message).not.toContain(SECRET);
      expect(env).toEqual(before);
    });
  });
}
