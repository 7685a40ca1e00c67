import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { parseCloudEvent } from '../events/cloudevent.js';
import type { Invocation } from '../events/invocation.js';
import { storeFromState } from '../routeros/sim/store.js';
import { RouterStateSchema, type RouterState } from '../router/state.js';
import { messageOf } from '../errors.js';

/**
 * The files `mikrolb invoke` reads besides the state: `--event` and `--router`. A file that
 * cannot be read or does not describe what it should is an answer (exit 2), never a throw.
 */

type Fail = { ok: false; message: string };
const fail = (message: string): Fail => ({ ok: false, message });
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

async function readJson(path: string, flag: string): Promise<{ ok: true; text: string; value: unknown } | Fail> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    return fail(`cannot read ${flag} ${path}: ${messageOf(e)}`);
  }
  try {
    return { ok: true, text, value: JSON.parse(text) };
  } catch (e) {
    return fail(`${flag} ${path} is not JSON: ${messageOf(e)}`);
  }
}

/** A binary-mode request as a file: the HTTP headers (`ce-*`, `content-type`) and the body. */
const BinaryEventFileSchema = z.object({
  headers: z.record(z.string(), z.string()),
  body: z.unknown().optional(),
});

const STRUCTURED = 'application/cloudevents+json';

/**
 * An event file in either of two forms:
 * - structured mode: the CloudEvent itself as a JSON object (`specversion`, `type`, `source`,
 *   `id`, extensions, `data`), as it would be POSTed with content-type application/cloudevents+json;
 * - binary mode: `{"headers": {"ce-specversion": "1.0", "ce-type": ..., ...}, "body": ...}` where
 *   the body is the request body as a string or as JSON (sent as application/json).
 * Either is decoded by the same parser the functions' HTTP shell uses.
 */
export async function readEventFile(path: string): Promise<{ ok: true; invocation: Invocation } | Fail> {
  const read = await readJson(path, '--event');
  if (!read.ok) return read;
  const { value } = read;
  if (!isRecord(value)) return fail(`--event ${path} must hold a JSON object`);
  let message: { headers: Record<string, string>; body: string };
  if ('specversion' in value) {
    message = { headers: { 'content-type': STRUCTURED }, body: read.text };
  } else if ('headers' in value) {
    const binary = BinaryEventFileSchema.safeParse(value);
    if (!binary.success) return fail(`--event ${path}: headers must map header names to strings`);
    const { headers, body } = binary.data;
    message = { headers, body: body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body) };
  } else {
    return fail(`--event ${path} is neither a structured CloudEvent (with "specversion") nor {"headers": ..., "body": ...}`);
  }
  const parsed = parseCloudEvent(message);
  return parsed.ok ? parsed : fail(`--event ${path}: ${parsed.message}`);
}

/** An earlier `mikrolb invoke` output: its `router.state` is where the next run starts. */
const InvokeOutputRouterSchema = z.object({ function: z.string(), router: z.object({ state: z.unknown() }).loose() }).loose();
/** An earlier output made without --router: it has no router state to start from. */
const InvokeOutputSchema = z.object({ function: z.string(), objects: z.array(z.unknown()) }).loose();
const ROUTER_FORMAT = '{"version": "7.19.1", "menus": {...}}';

/**
 * `--router`: the router-state format of the simulator's seed and of the output, or a whole
 * earlier `mikrolb invoke` output (its `router.state` is used), so runs can be chained.
 */
export async function readRouterFile(path: string): Promise<{ ok: true; state: RouterState } | Fail> {
  const read = await readJson(path, '--router');
  if (!read.ok) return read;
  const output = InvokeOutputRouterSchema.safeParse(read.value);
  if (!output.success && InvokeOutputSchema.safeParse(read.value).success) {
    return fail(`--router ${path} is the output of a run without --router: it holds no router state; give a router's state ${ROUTER_FORMAT} (mikrolb router dump) or the output of a run with --router`);
  }
  if (!output.success && isRecord(read.value) && !('version' in read.value) && !('menus' in read.value)) {
    return fail(`--router ${path} is not a router's state ${ROUTER_FORMAT}: it has neither "version" nor "menus"`);
  }
  const parsed = RouterStateSchema.safeParse(output.success ? output.data.router.state : read.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(`--router ${path}: ${[issue?.path.join('.'), issue?.message ?? 'invalid'].filter(Boolean).join(': ')}`);
  }
  // The simulator's store knows every menu and property a router has: a typo is caught here.
  const store = storeFromState(parsed.data);
  return store.ok ? { ok: true, state: parsed.data } : fail(`--router ${path}: ${store.message}`);
}
