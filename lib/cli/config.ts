import type { ClassConfig } from '../core/service.js';
import { classesFromEnv, DEFAULT_LOAD_BALANCER_CLASS } from '../config.js';
import type { Env } from './io.js';

export { DEFAULT_LOAD_BALANCER_CLASS };

export type ClassConfigResult = { ok: true; classes: ClassConfig } | { ok: false; message: string };

/** LOAD_BALANCER_CLASS_NAME and LOAD_BALANCER_DEFAULT; a bad value names the variable. */
export function classConfigFromEnv(env: Env): ClassConfigResult {
  const r = classesFromEnv(env);
  return r.ok ? { ok: true, classes: r.value } : r;
}
