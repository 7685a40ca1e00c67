import { X509Certificate } from 'node:crypto';
import * as z from 'zod';
import { DEFAULT_SERVICE_LIMITS, type ClassConfig, type ServiceLimits } from './core/service.js';
import { redactRouterUrl, RouterUrlSchema } from './routeros/client/url.js';
import { DEFAULT_CLUSTER, clusterNameProblem } from './router/names.js';

/**
 * The product's configuration from the environment (see "Configuration" in ARCHITECTURE.md),
 * parsed once at an entry point and passed down. A bad value is one line naming the variable;
 * secret values never appear in that line.
 */
export type Env = Readonly<Record<string, string | undefined>>;
export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const SECRETS = new Set(['ROUTEROS_PASSWORD', 'ROUTEROS_CA_CERT']);
/** Taken exactly as given: spaces may be part of a password, and only of a password. */
const VERBATIM = new Set(['ROUTEROS_PASSWORD']);
/** Shown only in part: a password put into the URL stays hidden. */
const REDACTED: Readonly<Record<string, (raw: string) => string>> = { ROUTEROS_URL: redactRouterUrl };

export const DEFAULT_LOAD_BALANCER_CLASS = 'mikrolb.de/controller';

/**
 * A value that is empty or only whitespace counts as unset (as the bridge reads its variables, and
 * as the Service-write policy reads LOAD_BALANCER_CLASS_NAME); the schemas trim what they take.
 */
function read<T>(env: Env, name: string, schema: z.ZodType<T>, fallback?: T): Parsed<T> {
  const raw = env[name];
  if (raw === undefined || raw === '' || (!VERBATIM.has(name) && raw.trim() === '')) {
    if (fallback !== undefined) return { ok: true, value: fallback };
    return { ok: false, message: `${name} is required` };
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  const shown = SECRETS.has(name) ? '' : `=${JSON.stringify(Object.hasOwn(REDACTED, name) ? REDACTED[name]?.(raw) : raw)}`;
  return { ok: false, message: `${name}${shown} ${parsed.error.issues[0]?.message ?? 'is invalid'}` };
}

const Bool = z.enum(['true', 'false'], 'must be true or false').transform((v) => v === 'true');
/**
 * Decimal digits (with a sign or a fraction, to say what is wrong with them), as a number.
 * Not `z.coerce.number()`: Number() reads whitespace as 0 and takes `0x1f90` and `8e3`.
 */
const decimal = (message: string) => z.string().trim().regex(/^-?\d+(\.\d+)?$/, message).transform(Number);
const PORT_RANGE = 'must be a port number (0-65535)';
const Port = decimal(PORT_RANGE).pipe(z.number().int('must be a whole number').min(0, PORT_RANGE).max(65535, PORT_RANGE));
/**
 * A class a Service can name in spec.loadBalancerClass: Kubernetes takes only a qualified name
 * there (apimachinery's IsQualifiedName), and a class it would refuse on every Service means the
 * controller serves nothing. Shape first, then the lengths, each with its own words.
 */
const ClassName = z.string().trim()
  .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, 'must look like mikrolb.de/controller')
  .superRefine((v, ctx) => {
    const slash = v.indexOf('/');
    const tooLong = (what: string, max: number) => ctx.addIssue({ code: 'custom', message: `${what} must be at most ${max} characters (Kubernetes refuses a longer spec.loadBalancerClass)` });
    if (slash > 253) tooLong('the prefix before "/"', 253);
    else if (v.length - slash - 1 > 63) tooLong('the name', 63);
  });
const Limit = decimal('must be a whole number').pipe(z.number().int('must be a whole number').min(1, 'must be at least 1').max(1024, 'must be at most 1024'));
const BEGIN_CERT = '-----BEGIN CERTIFICATE-----';
/**
 * Every certificate of the PEM text readable: TLS takes a broken one (the example Secret's
 * placeholder) without a word, and then fails every connection to the router.
 */
function pemProblem(text: string): string | undefined {
  const count = text.split(BEGIN_CERT).length - 1;
  if (count === 0) return `must be PEM certificates (${BEGIN_CERT})`;
  const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => m[0]);
  for (let i = 0; i < count; i++) {
    const block = blocks[i];
    if (block === undefined) return `must be PEM certificates: certificate ${i + 1} has no END line`;
    try {
      new X509Certificate(block);
    } catch {
      return `must be PEM certificates: certificate ${i + 1} cannot be read`;
    }
  }
  return undefined;
}
const Pem = z.string().superRefine((text, ctx) => {
  const problem = pemProblem(text);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

export interface RouterConfig {
  url: string;
  username: string;
  password: string;
  caCert?: string;
}

const ClusterName = z.string().superRefine((v, ctx) => {
  const problem = clusterNameProblem(v);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** MIKROLB_CLUSTER_NAME: whose router entries these are (default `default`). */
export function clusterFromEnv(env: Env): Parsed<string> {
  return read(env, 'MIKROLB_CLUSTER_NAME', ClusterName, DEFAULT_CLUSTER);
}

/** How much one Service may ask for: MAX_ANNOTATION_ITEMS, MAX_ALLOCATIONS_PER_SERVICE. */
export function limitsFromEnv(env: Env): Parsed<ServiceLimits> {
  const items = read(env, 'MAX_ANNOTATION_ITEMS', Limit, DEFAULT_SERVICE_LIMITS.maxAnnotationItems);
  if (!items.ok) return items;
  const allocations = read(env, 'MAX_ALLOCATIONS_PER_SERVICE', Limit, DEFAULT_SERVICE_LIMITS.maxAllocations);
  if (!allocations.ok) return allocations;
  return { ok: true, value: { maxAnnotationItems: items.value, maxAllocations: allocations.value } };
}

/**
 * The variables classesFromEnv reads, each with the value it takes when unset, for help texts
 * (`mikrolb invoke --help`); config.test.ts holds this against classesFromEnv itself.
 */
export const CLASS_VARIABLES: Readonly<Record<string, string>> = {
  LOAD_BALANCER_CLASS_NAME: DEFAULT_LOAD_BALANCER_CLASS,
  LOAD_BALANCER_DEFAULT: 'false',
  MIKROLB_CLUSTER_NAME: DEFAULT_CLUSTER,
  MAX_ANNOTATION_ITEMS: String(DEFAULT_SERVICE_LIMITS.maxAnnotationItems),
  MAX_ALLOCATIONS_PER_SERVICE: String(DEFAULT_SERVICE_LIMITS.maxAllocations),
};

/**
 * Which Services are ours (LOAD_BALANCER_CLASS_NAME, LOAD_BALANCER_DEFAULT), which router
 * entries (MIKROLB_CLUSTER_NAME), and how much one Service may ask for (limitsFromEnv).
 */
export function classesFromEnv(env: Env): Parsed<ClassConfig> {
  const cls = read(env, 'LOAD_BALANCER_CLASS_NAME', ClassName, DEFAULT_LOAD_BALANCER_CLASS);
  if (!cls.ok) return cls;
  const dflt = read(env, 'LOAD_BALANCER_DEFAULT', Bool, false);
  if (!dflt.ok) return dflt;
  const cluster = clusterFromEnv(env);
  if (!cluster.ok) return cluster;
  const limits = limitsFromEnv(env);
  if (!limits.ok) return limits;
  return { ok: true, value: { loadBalancerClass: cls.value, defaultClass: dflt.value, clusterName: cluster.value, limits: limits.value } };
}

export function routerFromEnv(env: Env): Parsed<RouterConfig> {
  const url = read(env, 'ROUTEROS_URL', z.string().trim().superRefine((v, ctx) => {
    const r = RouterUrlSchema.safeParse(v);
    if (!r.success) ctx.addIssue({ code: 'custom', message: r.error.issues[0]?.message ?? 'must be api://host[:port] or api-ssl://host[:port]' });
  }));
  if (!url.ok) return url;
  const username = read(env, 'ROUTEROS_USERNAME', z.string().trim().min(1), undefined);
  if (!username.ok) return username;
  const password = read(env, 'ROUTEROS_PASSWORD', z.string(), '');
  if (!password.ok) return password;
  const ca = env.ROUTEROS_CA_CERT?.trim() ? read(env, 'ROUTEROS_CA_CERT', Pem) : undefined;
  if (ca && !ca.ok) return ca;
  return { ok: true, value: { url: url.value, username: username.value, password: password.value, ...(ca?.ok ? { caCert: ca.value } : {}) } };
}

export function portFromEnv(env: Env, name: string, fallback: number): Parsed<number> {
  return read(env, name, Port, fallback);
}
