import * as z from 'zod';
import { DEFAULT_INVOKE_TOKEN_FILE } from '../lib/auth/config.js';
import { FUNCTION_NAMES, type FunctionName } from './routing.js';

/**
 * Variables that exist once per function: `FUNCTION_URL_ALLOCATE`, `FUNCTION_CONCURRENCY_RELEASE`, …
 * (see functionVariable).
 */
export const PER_FUNCTION_VARIABLES = ['FUNCTION_URL', 'FUNCTION_CONCURRENCY'] as const;
export type PerFunctionVariable = (typeof PER_FUNCTION_VARIABLES)[number];

/** `FUNCTION_URL` + `allocate` = `FUNCTION_URL_ALLOCATE`. */
export const functionVariable = (prefix: PerFunctionVariable, fn: FunctionName): string => `${prefix}_${fn.toUpperCase()}`;

/** The longest delay Node's timers keep (2^31 - 1 ms, about 24.8 days): a longer one fires after 1 ms. */
export const MAX_DELAY_MS = 2_147_483_647;
const ms = (defaultMs: number) => z.number().int().positive().max(MAX_DELAY_MS).default(defaultMs);
const FunctionUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

const LeaseSchema = z
  .object({
    enabled: z.boolean().default(true),
    namespace: z.string().min(1).default('mikrolb-system'),
    name: z.string().min(1).default('mikrolb-bridge'),
    /** Who holds the lease; the pod name by default, else host name and a random suffix. */
    identity: z.string().min(1).optional(),
    durationMs: ms(15_000),
    renewDeadlineMs: ms(10_000),
    retryPeriodMs: ms(2_000),
  })
  .refine((l) => l.renewDeadlineMs < l.durationMs, { error: 'the renew deadline must be shorter than the lease duration', path: ['renewDeadlineMs'] })
  .refine((l) => l.retryPeriodMs < l.renewDeadlineMs, { error: 'the retry period must be shorter than the renew deadline', path: ['retryPeriodMs'] });

const BackoffSchema = (baseMs: number, maxMs: number) =>
  z.object({ baseMs: ms(baseMs), maxMs: ms(maxMs) }).refine((b) => b.baseMs <= b.maxMs, { error: 'the base delay must not exceed the maximum' });

/** Everything the bridge is told; `bridgeConfig({})` gives the defaults. */
export const BridgeConfigSchema = z.object({
  /** Where each function listens; a function may instead be dispatched in process. */
  functions: z.object({ allocate: FunctionUrl.optional(), program: FunctionUrl.optional(), release: FunctionUrl.optional() }).prefault({}),
  /**
   * The projected, audience-bound ServiceAccount token sent as `Authorization: Bearer` to the
   * functions' URLs (re-read when the kubelet rotates it); no token is sent while it is absent.
   */
  invokeTokenFile: z.string().min(1).default(DEFAULT_INVOKE_TOKEN_FILE),
  /** Every function gets one resync event this often. */
  resyncIntervalMs: ms(5 * 60_000),
  /** Invocations in flight at once, per function (at most). */
  concurrency: z.number().int().positive().default(8),
  /**
   * Per-function overrides. allocate needs no lower limit: claims on different addresses never
   * touch the same object, so its invocations do not serialise on a pool.
   */
  functionConcurrency: z.object({ allocate: z.number().int().positive(), program: z.number().int().positive(), release: z.number().int().positive() }).partial().default({}),
  /** Follow-ups for one object start at most this often, so bursts of events coalesce. */
  perObjectIntervalMs: z.number().int().min(0).default(250),
  retry: BackoffSchema(500, 60_000).prefault({}),
  /** One invocation may take this long before it counts as failed (and is retried). */
  invocationTimeoutMs: ms(300_000),
  lease: LeaseSchema.prefault({}),
  /** /healthz, /readyz and /metrics; 0 picks a free port. */
  port: z.number().int().min(0).max(65_535).default(8080),
  hostname: z.string().optional(),
  /** On stop, in-flight invocations get this long to finish before they are aborted. */
  shutdownTimeoutMs: ms(10_000),
  watch: z
    .object({
      pageSize: z.number().int().positive().default(500),
      timeoutSeconds: z.number().int().positive().default(300),
      /** A stream silent this long is dead; bookmarks arrive every minute or two, events more often. */
      idleTimeoutMs: ms(300_000),
      backoff: BackoffSchema(500, 10_000).prefault({}),
    })
    .prefault({}),
});
export type BridgeConfig = z.infer<typeof BridgeConfigSchema>;
export type BridgeConfigInput = z.input<typeof BridgeConfigSchema>;

/** Fills in defaults; an invalid programmatic config is a bug, so this throws. */
export const bridgeConfig = (input: BridgeConfigInput = {}): BridgeConfig => BridgeConfigSchema.parse(input);

// ---- environment --------------------------------------------------------------------------------

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `30s`, `5m`, `1h`, `1m30s`; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount = '', unit = ''] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(amount) * (UNITS[unit] ?? NaN);
  const ms = Math.round(total);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

type Parse<T> = (text: string) => { ok: true; value: T } | { ok: false; message: string };
const got = (text: string): string => `got "${text}"`;

const duration: Parse<number> = (t) => {
  const value = parseDuration(t);
  if (value === undefined) return { ok: false, message: `must be a duration such as 30s, 5m or 1h, ${got(t)}` };
  // a longer timer would fire at once: a resync storm, or every invocation timed out
  return value > MAX_DELAY_MS ? { ok: false, message: `must be at most 596h (the longest timer Node keeps), ${got(t)}` } : { ok: true, value };
};
const positiveInt: Parse<number> = (t) =>
  /^[1-9]\d*$/.test(t) && Number.isSafeInteger(Number(t)) ? { ok: true, value: Number(t) } : { ok: false, message: `must be a positive integer, ${got(t)}` };
const port: Parse<number> = (t) =>
  /^\d+$/.test(t) && Number(t) <= 65_535 ? { ok: true, value: Number(t) } : { ok: false, message: `must be a port number (0-65535), ${got(t)}` };
const bool: Parse<boolean> = (t) => {
  const v = t.toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return { ok: true, value: true };
  if (['false', '0', 'no'].includes(v)) return { ok: true, value: false };
  return { ok: false, message: `must be true or false, ${got(t)}` };
};
const text: Parse<string> = (t) => ({ ok: true, value: t });
/** Names the API server checks: a value it would refuse stops start-up instead of every request. */
const matching = (pattern: RegExp, max: number, rule: string): Parse<string> => (t) =>
  t.length <= max && pattern.test(t) ? { ok: true, value: t } : { ok: false, message: `must be ${rule}, ${got(t)}` };
const objectName = matching(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 253, 'a Kubernetes object name (lower-case letters, digits, "-" and "."; at most 253)');
const namespaceName = matching(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 63, 'a namespace name (lower-case letters, digits and "-"; at most 63)');
/** A URL as messages may show it: anything before an `@` (user info) replaced by `***`. */
const redacted = (t: string): string => {
  const at = t.lastIndexOf('@');
  return at < 0 ? t : `${/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(t)?.[0] ?? ''}***${t.slice(at)}`;
};
const url: Parse<string> = (t) => {
  const parsed = FunctionUrl.safeParse(t);
  if (!parsed.success) return { ok: false, message: `must be an http:// or https:// URL, ${got(redacted(t))}` };
  // the functions authenticate the bridge by its token alone: credentials here never work, and would be logged
  const { username, password } = new URL(parsed.data);
  if (username !== '' || password !== '') return { ok: false, message: `must not hold credentials (the functions take the token of INVOKE_TOKEN_FILE), ${got(redacted(t))}` };
  return { ok: true, value: parsed.data };
};

export type EnvResult = { ok: true; config: BridgeConfig } | { ok: false; message: string };

class EnvProblem extends Error {}

/**
 * Reads the bridge's environment. A bad value is one line naming the variable. Empty values
 * count as unset (as a manifest's `value: ""` means).
 */
export interface EnvOptions {
  /** `optional` where the functions run in process (the all-in-one controller). */
  functionUrls?: 'required' | 'optional';
}

export function bridgeConfigFromEnv(env: Readonly<Record<string, string | undefined>>, opts: EnvOptions = {}): EnvResult {
  const read = <T>(name: string, parse: Parse<T>): T | undefined => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return undefined;
    const parsed = parse(raw);
    if (!parsed.ok) throw new EnvProblem(`${name} ${parsed.message}`);
    return parsed.value;
  };
  try {
    const urlOf = (fn: FunctionName): string | undefined => {
      const name = functionVariable('FUNCTION_URL', fn);
      return opts.functionUrls === 'optional' ? read(name, url) : requireUrl(name, read);
    };
    const functions = Object.fromEntries(FUNCTION_NAMES.map((fn) => [fn, urlOf(fn)]));
    const input: BridgeConfigInput = {
      functions,
      invokeTokenFile: read('INVOKE_TOKEN_FILE', text),
      resyncIntervalMs: read('RESYNC_INTERVAL', duration),
      concurrency: read('FUNCTION_CONCURRENCY', positiveInt),
      functionConcurrency: Object.fromEntries(FUNCTION_NAMES.flatMap((fn) => {
        const v = read(functionVariable('FUNCTION_CONCURRENCY', fn), positiveInt);
        return v === undefined ? [] : [[fn, v]];
      })),
      invocationTimeoutMs: read('FUNCTION_TIMEOUT', duration),
      retry: { baseMs: read('RETRY_BASE_DELAY', duration), maxMs: read('RETRY_MAX_DELAY', duration) },
      lease: {
        enabled: read('LEADER_ELECTION', bool),
        namespace: read('LEASE_NAMESPACE', namespaceName),
        name: read('LEASE_NAME', objectName),
        identity: read('POD_NAME', text),
        durationMs: read('LEASE_DURATION', duration),
        renewDeadlineMs: read('LEASE_RENEW_DEADLINE', duration),
        retryPeriodMs: read('LEASE_RETRY_PERIOD', duration),
      },
      port: read('BRIDGE_PORT', port) ?? read('PORT', port),
      shutdownTimeoutMs: read('SHUTDOWN_TIMEOUT', duration),
    };
    return checkCombined(input, env);
  } catch (err) {
    if (err instanceof EnvProblem) return { ok: false, message: err.message };
    throw err;
  }
}

function requireUrl(name: string, read: <T>(name: string, parse: Parse<T>) => T | undefined): string {
  const value = read(name, url);
  if (value === undefined) throw new EnvProblem(`${name} is required: the URL the ${name.slice(13).toLowerCase()} function listens on`);
  return value;
}

/**
 * Rules across variables (the lease timings, the retry delays): the message names both
 * variables and the values they have, so it points at the one that was set.
 */
const COMBINED: Record<string, { name: string; rule: string; other: string }> = {
  'lease.renewDeadlineMs': { name: 'LEASE_RENEW_DEADLINE', rule: 'must be shorter than', other: 'LEASE_DURATION' },
  'lease.retryPeriodMs': { name: 'LEASE_RETRY_PERIOD', rule: 'must be shorter than', other: 'LEASE_RENEW_DEADLINE' },
  retry: { name: 'RETRY_BASE_DELAY', rule: 'must not be longer than', other: 'RETRY_MAX_DELAY' },
};

function checkCombined(input: BridgeConfigInput, env: Readonly<Record<string, string | undefined>>): EnvResult {
  const parsed = BridgeConfigSchema.safeParse(input);
  if (parsed.success) return { ok: true, config: parsed.data };
  const issue = parsed.error.issues[0];
  const path = issue?.path.join('.') ?? '';
  const combined = Object.hasOwn(COMBINED, path) ? COMBINED[path] : undefined;
  if (combined === undefined) return { ok: false, message: `${path}: ${issue?.message ?? 'invalid'}` };
  const shown = (name: string): string => env[name]?.trim() || `${formatDuration(defaultDurations()[name] ?? 0)}, the default`;
  return { ok: false, message: `${combined.name} (${shown(combined.name)}) ${combined.rule} ${combined.other} (${shown(combined.other)})` };
}

/** The defaults of the durations COMBINED names, by variable. */
function defaultDurations(): Record<string, number> {
  const { lease, retry } = bridgeConfig({});
  return {
    LEASE_DURATION: lease.durationMs, LEASE_RENEW_DEADLINE: lease.renewDeadlineMs, LEASE_RETRY_PERIOD: lease.retryPeriodMs,
    RETRY_BASE_DELAY: retry.baseMs, RETRY_MAX_DELAY: retry.maxMs,
  };
}

/** Milliseconds as a duration is written: 90000 is `1m30s`. */
export function formatDuration(ms: number): string {
  let rest = ms;
  const parts: string[] = [];
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('') || '0ms';
}
