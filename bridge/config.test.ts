import { describe, expect, it } from 'vitest';
import { bridgeConfig, bridgeConfigFromEnv, formatDuration, parseDuration } from './config.js';

const URLS = {
  FUNCTION_URL_ALLOCATE: 'http://allocate.mikrolb-system.svc',
  FUNCTION_URL_PROGRAM: 'http://program.mikrolb-system.svc',
  FUNCTION_URL_RELEASE: 'https://release.example:8443/',
};

describe('durations', () => {
  it.each([500, 30_000, 300_000, 3_600_000, 90_000, 1_500, 3_723_004])('%i ms is written so that it reads back', (ms) => {
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
  it.each([
    ['500ms', 500], ['30s', 30_000], ['5m', 300_000], ['1h', 3_600_000], ['1m30s', 90_000], ['1.5s', 1_500],
  ])('%s = %i ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['', '5', 'm', '5 m', '-5s', '0s', '5d', 'five minutes'])('%j is not a duration', (text) => expect(parseDuration(text)).toBeUndefined());
});

describe('configuration from the environment', () => {
  it('fills defaults around the three URLs', () => {
    const result = bridgeConfigFromEnv(URLS);
    expect(result).toEqual({ ok: true, config: bridgeConfig({ functions: { allocate: URLS.FUNCTION_URL_ALLOCATE, program: URLS.FUNCTION_URL_PROGRAM, release: URLS.FUNCTION_URL_RELEASE } }) });
    if (!result.ok) return;
    expect(result.config).toMatchObject({ resyncIntervalMs: 300_000, concurrency: 8, port: 8080, lease: { enabled: true, namespace: 'mikrolb-system', name: 'mikrolb-bridge' } });
  });

  it('reads every variable', () => {
    const result = bridgeConfigFromEnv({
      ...URLS, RESYNC_INTERVAL: '90s', FUNCTION_CONCURRENCY: '3', LEADER_ELECTION: 'false', LEASE_NAMESPACE: 'lb',
      LEASE_NAME: 'bridge', POD_NAME: 'bridge-7d9f', LEASE_DURATION: '6s', LEASE_RENEW_DEADLINE: '4s', LEASE_RETRY_PERIOD: '1s',
      BRIDGE_PORT: '9090', PORT: '8081', SHUTDOWN_TIMEOUT: '20s', RETRY_BASE_DELAY: '200ms', RETRY_MAX_DELAY: '2m', FUNCTION_TIMEOUT: '1m',
    });
    expect(result).toMatchObject({
      ok: true,
      config: {
        resyncIntervalMs: 90_000, concurrency: 3, port: 9090, shutdownTimeoutMs: 20_000, invocationTimeoutMs: 60_000,
        retry: { baseMs: 200, maxMs: 120_000 },
        lease: { enabled: false, namespace: 'lb', name: 'bridge', identity: 'bridge-7d9f', durationMs: 6_000, renewDeadlineMs: 4_000, retryPeriodMs: 1_000 },
      },
    });
  });

  it('reads INVOKE_TOKEN_FILE, by default the projected volume of deploy/overlays/knative', () => {
    expect(bridgeConfigFromEnv(URLS)).toMatchObject({ ok: true, config: { invokeTokenFile: '/var/run/secrets/mikrolb.de/invoke/token' } });
    expect(bridgeConfigFromEnv({ ...URLS, INVOKE_TOKEN_FILE: '/run/token' })).toMatchObject({ ok: true, config: { invokeTokenFile: '/run/token' } });
  });

  it('lets the URLs be optional where the functions run in process, but still checks them', () => {
    expect(bridgeConfigFromEnv({}, { functionUrls: 'optional' })).toMatchObject({ ok: true, config: { functions: {} } });
    expect(bridgeConfigFromEnv({ FUNCTION_URL_PROGRAM: 'x' }, { functionUrls: 'optional' })).toEqual({ ok: false, message: 'FUNCTION_URL_PROGRAM must be an http:// or https:// URL, got "x"' });
  });

  // a function authenticates the bridge by its token alone; a password in the URL would never
  // work, and was logged at start ("Bridge started", its functions)
  it.each([
    ['a password in a URL', 'http://bridge:s3cret@program.mikrolb-system.svc', 'FUNCTION_URL_PROGRAM must not hold credentials (the functions take the token of INVOKE_TOKEN_FILE), got "http://***@program.mikrolb-system.svc"'],
    ['a user name in a URL', 'https://bridge@program', 'FUNCTION_URL_PROGRAM must not hold credentials (the functions take the token of INVOKE_TOKEN_FILE), got "https://***@program"'],
    ['a password in a URL that is not one', 'ftp://bridge:s3cret@program', 'FUNCTION_URL_PROGRAM must be an http:// or https:// URL, got "ftp://***@program"'],
  ])('refuses %s, without repeating the credentials', (_, value, message) => {
    expect(bridgeConfigFromEnv({ ...URLS, FUNCTION_URL_PROGRAM: value })).toEqual({ ok: false, message });
  });

  it('takes PORT when BRIDGE_PORT is absent, and treats empty values as unset', () => {
    expect(bridgeConfigFromEnv({ ...URLS, PORT: '8081', RESYNC_INTERVAL: '' })).toMatchObject({ ok: true, config: { port: 8081, resyncIntervalMs: 300_000 } });
  });

  // as lib/config.ts reads the functions' variables (PORT, LOAD_BALANCER_CLASS_NAME, ...)
  it('treats values of only whitespace as unset too', () => {
    expect(bridgeConfigFromEnv({ ...URLS, BRIDGE_PORT: ' ', PORT: '8081', RESYNC_INTERVAL: ' \t', LEADER_ELECTION: '\n' }))
      .toMatchObject({ ok: true, config: { port: 8081, resyncIntervalMs: 300_000, lease: { enabled: true } } });
    expect(bridgeConfigFromEnv({ ...URLS, FUNCTION_URL_RELEASE: '  ' })).toEqual({ ok: false, message: 'FUNCTION_URL_RELEASE is required: the URL the release function listens on' });
  });

  it.each<[string, Record<string, string>, string]>([
    ['a missing URL', { FUNCTION_URL_RELEASE: '' }, 'FUNCTION_URL_RELEASE is required: the URL the release function listens on'],
    ['a URL that is not one', { FUNCTION_URL_PROGRAM: 'program:8080' }, 'FUNCTION_URL_PROGRAM must be an http:// or https:// URL, got "program:8080"'],
    ['a URL of another scheme', { FUNCTION_URL_ALLOCATE: 'ftp://x/' }, 'FUNCTION_URL_ALLOCATE must be an http:// or https:// URL, got "ftp://x/"'],
    ['a duration without unit', { RESYNC_INTERVAL: '300' }, 'RESYNC_INTERVAL must be a duration such as 30s, 5m or 1h, got "300"'],
    ['a duration past what a timer keeps', { RESYNC_INTERVAL: '720h' }, 'RESYNC_INTERVAL must be at most 596h (the longest timer Node keeps), got "720h"'],
    ['a timeout past what a timer keeps', { FUNCTION_TIMEOUT: '597h' }, 'FUNCTION_TIMEOUT must be at most 596h (the longest timer Node keeps), got "597h"'],
    ['a concurrency of zero', { FUNCTION_CONCURRENCY: '0' }, 'FUNCTION_CONCURRENCY must be a positive integer, got "0"'],
    ['a fractional concurrency', { FUNCTION_CONCURRENCY: '2.5' }, 'FUNCTION_CONCURRENCY must be a positive integer, got "2.5"'],
    ['a yes/no typo', { LEADER_ELECTION: 'ture' }, 'LEADER_ELECTION must be true or false, got "ture"'],
    ['a port out of range', { BRIDGE_PORT: '70000' }, 'BRIDGE_PORT must be a port number (0-65535), got "70000"'],
    // the rules across variables name both, with their values: often only one of them was set
    ['a renew deadline past the lease', { LEASE_DURATION: '5s', LEASE_RENEW_DEADLINE: '10s' }, 'LEASE_RENEW_DEADLINE (10s) must be shorter than LEASE_DURATION (5s)'],
    ['a lease shorter than the default renew deadline', { LEASE_DURATION: '5s' }, 'LEASE_RENEW_DEADLINE (10s, the default) must be shorter than LEASE_DURATION (5s)'],
    ['a retry period past the default renew deadline', { LEASE_RETRY_PERIOD: '20s' }, 'LEASE_RETRY_PERIOD (20s) must be shorter than LEASE_RENEW_DEADLINE (10s, the default)'],
    ['a maximum delay under the default base delay', { RETRY_MAX_DELAY: '100ms' }, 'RETRY_BASE_DELAY (500ms, the default) must not be longer than RETRY_MAX_DELAY (100ms)'],
    // a sub-millisecond duration rounds to 0 ms, which only the schema refused, naming resyncIntervalMs
    ['a duration under a millisecond', { RESYNC_INTERVAL: '0.0001ms' }, 'RESYNC_INTERVAL must be a duration such as 30s, 5m or 1h, got "0.0001ms"'],
    ['a concurrency past what a number holds', { FUNCTION_CONCURRENCY: '99999999999999999999' }, 'FUNCTION_CONCURRENCY must be a positive integer, got "99999999999999999999"'],
    ['a per-function concurrency past what a number holds', { FUNCTION_CONCURRENCY_PROGRAM: '9007199254740993' }, 'FUNCTION_CONCURRENCY_PROGRAM must be a positive integer, got "9007199254740993"'],
    // the API server refuses such a Lease: the bridge would start, never lead, and warn for ever
    ['a lease name that is no object name', { LEASE_NAME: 'Bridge Lease' }, 'LEASE_NAME must be a Kubernetes object name (lower-case letters, digits, "-" and "."; at most 253), got "Bridge Lease"'],
    ['a lease namespace that is no namespace', { LEASE_NAMESPACE: 'mikrolb.system' }, 'LEASE_NAMESPACE must be a namespace name (lower-case letters, digits and "-"; at most 63), got "mikrolb.system"'],
    ['a lease namespace over 63 characters', { LEASE_NAMESPACE: 'n'.repeat(64) }, `LEASE_NAMESPACE must be a namespace name (lower-case letters, digits and "-"; at most 63), got "${'n'.repeat(64)}"`],
    ['a base delay past the maximum', { RETRY_BASE_DELAY: '5m', RETRY_MAX_DELAY: '1m' }, 'RETRY_BASE_DELAY (5m) must not be longer than RETRY_MAX_DELAY (1m)'],
  ])('fails on %s with one line naming the variable', (_, env, message) => {
    const result = bridgeConfigFromEnv({ ...URLS, ...env });
    expect(result).toEqual({ ok: false, message });
    expect(message).not.toContain('\n');
  });
});

describe('invocations in flight per function', () => {
  const limits = (env: Record<string, string>) => {
    const result = bridgeConfigFromEnv({ ...URLS, ...env });
    if (!result.ok) throw new Error(result.message);
    return { concurrency: result.config.concurrency, functionConcurrency: result.config.functionConcurrency };
  };

  it('every function defaults to FUNCTION_CONCURRENCY (8), allocate too', () => {
    expect(limits({})).toEqual({ concurrency: 8, functionConcurrency: {} });
    expect(limits({ FUNCTION_CONCURRENCY: '16' })).toEqual({ concurrency: 16, functionConcurrency: {} });
  });

  it('FUNCTION_CONCURRENCY_<FN> sets one function, whatever FUNCTION_CONCURRENCY says', () => {
    expect(limits({ FUNCTION_CONCURRENCY: '1', FUNCTION_CONCURRENCY_ALLOCATE: '4', FUNCTION_CONCURRENCY_RELEASE: '3' }))
      .toEqual({ concurrency: 1, functionConcurrency: { allocate: 4, release: 3 } });
    expect(bridgeConfigFromEnv({ ...URLS, FUNCTION_CONCURRENCY_PROGRAM: '0' })).toEqual({ ok: false, message: 'FUNCTION_CONCURRENCY_PROGRAM must be a positive integer, got "0"' });
  });

  it('a programmatic config follows the same rule', () => {
    expect(bridgeConfig({ concurrency: 1 }).functionConcurrency).toEqual({});
    expect(bridgeConfig({ functionConcurrency: { program: 4 } }).functionConcurrency).toEqual({ program: 4 });
  });
});
