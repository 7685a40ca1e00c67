import { z } from 'zod';
import type { ClassConfig } from '../core/service.js';
import type { Env } from './io.js';

/**
 * The configuration `mikrolb invoke` shares with the deployed functions (see "Configuration" in
 * ARCHITECTURE.md): which Services are ours. Parsed once, at the entry point.
 */
export const DEFAULT_LOAD_BALANCER_CLASS = 'mikrolb.de/controller';

const ClassNameSchema = z
  .string()
  .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/,
    'must look like mikrolb.de/controller');

const BooleanSchema = z.enum(['true', 'false'], 'must be true or false');

export type ClassConfigResult = { ok: true; classes: ClassConfig } | { ok: false; message: string };

function variable<T>(env: Env, name: string, schema: z.ZodType<T>, fallback: T): { ok: true; value: T } | { ok: false; message: string } {
  const raw = env[name];
  if (raw === undefined || raw === '') return { ok: true, value: fallback };
  const parsed = schema.safeParse(raw.trim());
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, message: `${name}=${JSON.stringify(raw)} ${parsed.error.issues[0]?.message ?? 'is invalid'}` };
}

/** LOAD_BALANCER_CLASS_NAME and LOAD_BALANCER_DEFAULT; a bad value names the variable. */
export function classConfigFromEnv(env: Env): ClassConfigResult {
  const cls = variable(env, 'LOAD_BALANCER_CLASS_NAME', ClassNameSchema, DEFAULT_LOAD_BALANCER_CLASS);
  if (!cls.ok) return cls;
  const dflt = variable(env, 'LOAD_BALANCER_DEFAULT', BooleanSchema, 'false');
  if (!dflt.ok) return dflt;
  return { ok: true, classes: { loadBalancerClass: cls.value, defaultClass: dflt.value === 'true' } };
}
