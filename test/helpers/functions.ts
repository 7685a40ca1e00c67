import { objectInvocation, resyncInvocation, toCloudEvent } from '../../lib/events/cloudevent.js';
import type { Change, Invocation, ObjectRef } from '../../lib/events/invocation.js';
import { serveApp } from '../../lib/http/serve.js';
import { z } from 'zod';

export interface FunctionClient {
  url: string;
  send(inv: Invocation): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }>;
  object(ref: ObjectRef, change?: Change): Promise<{ status: number; body: Record<string, unknown> }>;
  resync(): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

const BodySchema = z.record(z.string(), z.unknown());

/** Serves a function app on loopback and sends it CloudEvents over real HTTP. */
export async function serveFunction(app: { fetch: (r: Request) => Response | Promise<Response> }): Promise<FunctionClient> {
  const served = await serveApp(app, { port: 0, hostname: '127.0.0.1' });
  const url = `http://127.0.0.1:${served.port}/`;
  const send: FunctionClient['send'] = async (inv) => {
    const ev = toCloudEvent(inv);
    const res = await fetch(url, { method: 'POST', headers: ev.headers, body: ev.body });
    const text = await res.text();
    return { status: res.status, body: BodySchema.parse(text ? JSON.parse(text) : {}), retryAfter: res.headers.get('retry-after') };
  };
  return {
    url,
    send,
    object: (ref, change = 'update') => send(objectInvocation(change, ref)),
    resync: () => send(resyncInvocation()),
    close: () => served.close(),
  };
}
