import * as z from 'zod';
import type { Env, Parsed } from '../config.js';

/**
 * How a served function (`mikrolb serve allocate|program|release`) authenticates its callers,
 * parsed once at the entry point:
 * - INVOKE_AUTH: `tokenreview` (default) checks `Authorization: Bearer <token>` with a
 *   TokenReview; `none` turns authentication off, for local development only.
 * - INVOKE_AUDIENCE: the audience the token must be valid for; unset, any audience the API
 *   server accepts.
 * - INVOKE_ALLOWED_SUBJECTS: the user names allowed to invoke, comma-separated
 *   (`system:serviceaccount:mikrolb-system:mikrolb-bridge`); required with `tokenreview`.
 */
export type InvokeAuthConfig =
  | { mode: 'none' }
  | { mode: 'tokenreview'; audience?: string; allowedSubjects: readonly string[] };

/** Where the bridge reads the projected ServiceAccount token it sends (INVOKE_TOKEN_FILE). */
export const DEFAULT_INVOKE_TOKEN_FILE = '/var/run/secrets/mikrolb.de/invoke/token';

const Mode = z.enum(['tokenreview', 'none'], 'must be tokenreview or none');
const Audience = z.string().trim().min(1, 'must not be blank').refine((v) => !/[\s,]/.test(v), 'must be one audience (no spaces or commas)');
const Subjects = z.string().transform((v, ctx) => {
  const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = items.find((s) => /\s/.test(s));
  if (bad !== undefined) ctx.addIssue({ code: 'custom', message: `"${bad}" is not a user name (no spaces)` });
  if (items.length === 0) ctx.addIssue({ code: 'custom', message: 'names no subject' });
  return [...new Set(items)];
});

function read<T>(env: Env, name: string, schema: z.ZodType<T>): Parsed<T | undefined> {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return { ok: true, value: undefined };
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, message: `${name}=${JSON.stringify(raw)} ${parsed.error.issues[0]?.message ?? 'is invalid'}` };
}

/** INVOKE_AUTH, INVOKE_AUDIENCE and INVOKE_ALLOWED_SUBJECTS; a bad value is one line naming the variable. */
export function invokeAuthFromEnv(env: Env): Parsed<InvokeAuthConfig> {
  const mode = read(env, 'INVOKE_AUTH', Mode);
  if (!mode.ok) return mode;
  const audience = read(env, 'INVOKE_AUDIENCE', Audience);
  if (!audience.ok) return audience;
  const subjects = read(env, 'INVOKE_ALLOWED_SUBJECTS', Subjects);
  if (!subjects.ok) return subjects;
  if (mode.value === 'none') return { ok: true, value: { mode: 'none' } };
  if (subjects.value === undefined) {
    return { ok: false, message: 'INVOKE_ALLOWED_SUBJECTS is required: the user names allowed to invoke this function (e.g. system:serviceaccount:mikrolb-system:mikrolb-bridge), or INVOKE_AUTH=none for local development' };
  }
  return { ok: true, value: { mode: 'tokenreview', allowedSubjects: subjects.value, ...(audience.value === undefined ? {} : { audience: audience.value }) } };
}
