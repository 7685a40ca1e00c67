import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { parseCloudEvent } from '../events/cloudevent.js';
import type { Invocation } from '../events/invocation.js';
import { routerStateOf } from '../routeros/sim/state-file.js';
import type { RouterState } from '../router/state.js';
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

/**
 * `--router`: the router-state format of the simulator's seed and of the output, or a whole
 * earlier `mikrolb invoke` output (its `router.state` is used), so runs can be chained.
 */
export async function readRouterFile(path: string): Promise<{ ok: true; state: RouterState } | Fail> {
  const read = await readJson(path, '--router');
  if (!read.ok) return read;
  return routerStateOf(read.value, `--router ${path}`);
}
