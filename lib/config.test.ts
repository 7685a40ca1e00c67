import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLASS_VARIABLES, classesFromEnv, limitsFromEnv, portFromEnv, routerFromEnv, type Env } from './config.js';

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

describe('ROUTEROS_CA_CERT: certificates, checked at start', () => {
  const ROUTER = { ROUTEROS_URL: 'api-ssl://192.0.2.1', ROUTEROS_USERNAME: 'mikrolb' };
  const CERT = readFileSync(new URL('./routeros/sim/testdata/localhost.cert.pem', import.meta.url), 'utf8');
  // deploy/base/router-secret.example.yaml's placeholder: TLS took it and failed every connection
  const PLACEHOLDER = '-----BEGIN CERTIFICATE-----\n(replace with your router CA certificate)\n-----END CERTIFICATE-----\n';

  it.each([
    ['one certificate', CERT],
    ['a bundle of two', `${CERT}\n${CERT}`],
  ])('takes %s', (_, pem) => {
    expect(routerFromEnv({ ...ROUTER, ROUTEROS_CA_CERT: pem })).toMatchObject({ ok: true, value: { caCert: pem } });
  });

  it.each([
    ['the example Secret\'s placeholder', PLACEHOLDER, 'ROUTEROS_CA_CERT must be PEM certificates: certificate 1 cannot be read'],
    ['a bundle whose second certificate is cut off', `${CERT}${CERT.slice(0, 200)}`, 'ROUTEROS_CA_CERT must be PEM certificates: certificate 2 has no END line'],
    ['a broken one after a good one', `${CERT}${PLACEHOLDER}`, 'ROUTEROS_CA_CERT must be PEM certificates: certificate 2 cannot be read'],
    ['a private key', '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n', 'ROUTEROS_CA_CERT must be PEM certificates (-----BEGIN CERTIFICATE-----)'],
  ])('refuses %s, without repeating it', (_, pem, message) => {
    const result = routerFromEnv({ ...ROUTER, ROUTEROS_CA_CERT: pem });
    expect(result).toEqual({ ok: false, message });
  });
});
