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
    ['0x1f90', 'PORT="0x1f90" must be a port number (0-65535)'],
    ['8e3', 'PORT="8e3" must be a port number (0-65535)'],
    ['-1', 'PORT="-1" must be a port number (0-65535)'],
    ['65536', 'PORT="65536" must be a port number (0-65535)'],
    ['80.5', 'PORT="80.5" must be a whole number'],
  ])('PORT=%j is refused', (value, message) => {
    expect(portFromEnv({ PORT: value }, 'PORT', 8080)).toEqual({ ok: false, message });
  });

  it.each([
    ['0x10', 'MAX_ANNOTATION_ITEMS="0x10" must be a whole number'],
    ['1e2', 'MAX_ANNOTATION_ITEMS="1e2" must be a whole number'],
    ['-1', 'MAX_ANNOTATION_ITEMS="-1" must be at least 1'],
    ['2.5', 'MAX_ANNOTATION_ITEMS="2.5" must be a whole number'],
  ])('MAX_ANNOTATION_ITEMS=%j is refused', (value, message) => {
    expect(limitsFromEnv({ MAX_ANNOTATION_ITEMS: value })).toEqual({ ok: false, message });
  });

  it.each([' ', '\t', ' \n'])('PORT=%j counts as unset (the default), as in the bridge: never port 0, as Number() would read it', (value) => {
    expect(portFromEnv({ PORT: value }, 'PORT', 8080)).toEqual({ ok: true, value: 8080 });
    expect(limitsFromEnv({ MAX_ANNOTATION_ITEMS: value })).toEqual(limitsFromEnv({}));
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

describe('values of only whitespace count as unset, as empty ones do (and as in the bridge)', () => {
  const ROUTER = { ROUTEROS_URL: 'api://192.0.2.1', ROUTEROS_USERNAME: 'mikrolb' };

  it.each(['LOAD_BALANCER_CLASS_NAME', 'LOAD_BALANCER_DEFAULT', 'MIKROLB_CLUSTER_NAME', 'MAX_ANNOTATION_ITEMS', 'MAX_ALLOCATIONS_PER_SERVICE'])('%s', (name) => {
    expect(classesFromEnv({ [name]: '  ' })).toEqual(classesFromEnv({}));
    expect(classesFromEnv({ [name]: '\n' })).toEqual(classesFromEnv({}));
  });

  it.each([
    ['ROUTEROS_URL', 'ROUTEROS_URL is required'],
    ['ROUTEROS_USERNAME', 'ROUTEROS_USERNAME is required'],
  ])('%s is then missing', (name, message) => {
    expect(routerFromEnv({ ...ROUTER, [name]: ' \t ' })).toEqual({ ok: false, message });
  });

  it('ROUTEROS_CA_CERT: the system\'s CAs (a Secret key holding a lone newline)', () => {
    expect(routerFromEnv({ ...ROUTER, ROUTEROS_CA_CERT: '\n' })).toEqual({ ok: true, value: { ...ROUTER_VALUE, password: '' } });
  });

  it('ROUTEROS_PASSWORD alone is taken as given: spaces may be a password', () => {
    expect(routerFromEnv({ ...ROUTER, ROUTEROS_PASSWORD: '  ' })).toEqual({ ok: true, value: { ...ROUTER_VALUE, password: '  ' } });
    expect(routerFromEnv({ ...ROUTER, ROUTEROS_PASSWORD: ' s3cret ' })).toEqual({ ok: true, value: { ...ROUTER_VALUE, password: ' s3cret ' } });
  });

  const ROUTER_VALUE = { url: 'api://192.0.2.1', username: 'mikrolb' };
});

describe('ROUTEROS_USERNAME: trimmed, as every other value but the password', () => {
  it.each(['mikrolb\n', ' mikrolb ', '\tmikrolb'])('%j is the user mikrolb', (value) => {
    expect(routerFromEnv({ ROUTEROS_URL: 'api://192.0.2.1', ROUTEROS_USERNAME: value })).toEqual({ ok: true, value: { url: 'api://192.0.2.1', username: 'mikrolb', password: '' } });
  });

  it('and so is ROUTEROS_URL (a Secret written with echo ends in a newline)', () => {
    expect(routerFromEnv({ ROUTEROS_URL: ' api://192.0.2.1\n', ROUTEROS_USERNAME: 'mikrolb' })).toEqual({ ok: true, value: { url: 'api://192.0.2.1', username: 'mikrolb', password: '' } });
  });
});

/**
 * LOAD_BALANCER_CLASS_NAME: only a class Kubernetes takes in a Service's spec.loadBalancerClass
 * (apimachinery's IsQualifiedName: an optional DNS-subdomain prefix of at most 253 characters and
 * `/`, then a name of at most 63). A longer one was taken, and no Service could ever ask for it:
 * the controller served nothing without a word.
 */
describe('LOAD_BALANCER_CLASS_NAME: as Kubernetes takes spec.loadBalancerClass', () => {
  const prefix = (n: number) => `${'a'.repeat(n - 4)}.com`;
  it.each([
    ['a name of 63 characters', 'x'.repeat(63)],
    ['a prefix of 253 characters and a name of 63', `${prefix(253)}/${'x'.repeat(63)}`],
  ])('takes %s', (_, name) => {
    expect(classesFromEnv({ LOAD_BALANCER_CLASS_NAME: name })).toMatchObject({ ok: true, value: { loadBalancerClass: name } });
  });

  it.each([
    ['a name of 64 characters', 'x'.repeat(64), 'the name must be at most 63 characters'],
    ['a prefixed name of 64 characters', `example.com/${'x'.repeat(64)}`, 'the name must be at most 63 characters'],
    ['a prefix of 254 characters', `${prefix(254)}/lb`, 'the prefix before "/" must be at most 253 characters'],
  ])('refuses %s in one line naming the variable', (_, name, why) => {
    const r = classesFromEnv({ LOAD_BALANCER_CLASS_NAME: name });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message.startsWith(`LOAD_BALANCER_CLASS_NAME=${JSON.stringify(name)} `)).toBe(true);
    expect(r.message).toContain(why);
    expect(r.message).not.toContain('\n');
  });
});
