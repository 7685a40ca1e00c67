/**
 * Preloaded (`node --import`) into a controller the bench runs as a child process: counts, in
 * that process, the API requests it sends (by caller × verb × resource) and its router round
 * trips, and writes the counts to BENCH_PROBE_FILE on SIGUSR2. The same probe runs in our
 * controller and in the reference, so requests are counted the same way for both.
 *
 * - An API request is an outgoing HTTP(S) request to BENCH_API_PORT (seen where every client
 *   request meets its agent; retries and watches count once each).
 * - Its caller is what its User-Agent names: MikroLB sends `mikrolb-<component>` (allocate,
 *   program, release, bridge, controller: lib/k8s/rest.ts), so the count costs one header read
 *   and nothing of the controller's own work; any other request counts as BENCH_PROBE_NAME's.
 * - A router round trip is one write of whole sentences to BENCH_ROUTER_PORT (the client sends
 *   each batch of commands in one write; node-routeros's login writes word by word and is not
 *   counted).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { Agent, ClientRequest } from 'node:http';
import { Socket } from 'node:net';

const out = process.env.BENCH_PROBE_FILE ?? '';
const apiPort = Number(process.env.BENCH_API_PORT ?? 0);
const routerPort = Number(process.env.BENCH_ROUTER_PORT ?? 0);
const fallback = process.env.BENCH_PROBE_NAME ?? 'process';

const requests = new Map<string, number>();
let routerRoundTrips = 0;
let seq = 0;

/** The component a MikroLB User-Agent names (`mikrolb-allocate` → allocate), else the fallback. */
function callerOf(userAgent: unknown): string {
  const named = typeof userAgent === 'string' ? /^mikrolb-([a-z]+)$/.exec(userAgent)?.[1] : undefined;
  return named ?? fallback;
}

/**
 * `get services`, `list ipallocations`, `update services/status`, `watch endpointslices`…; a
 * list names its selectors' kinds, as `list ipallocations (label, field)`, whose answers are far
 * smaller than a whole kind's.
 */
export function verbAndResource(method: string, path: string): string {
  const [pathname = '', query = ''] = path.split('?');
  const parts = pathname.split('/').filter((p) => p !== '');
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  const scoped = rest[0] === 'namespaces' && rest.length >= 3 ? rest.slice(2) : rest;
  const [resource = '?', name, sub] = scoped;
  const watch = /(^|&)watch=(1|true)(&|$)/.test(query);
  const verb = method === 'GET' ? (name !== undefined ? 'get' : watch ? 'watch' : 'list')
    : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch'
      : method === 'DELETE' ? (name !== undefined ? 'delete' : 'deletecollection') : method.toLowerCase();
  const selectors = verb === 'list' ? ['label', 'field'].filter((k) => new RegExp(`(^|&)${k}Selector=[^&]`).test(query)) : [];
  return `${verb} ${sub ? `${resource}/${sub}` : resource}${selectors.length ? ` (${selectors.join(', ')})` : ''}`;
}

// Every client request passes through its agent's addRequest (the global agent when none is
// given), synchronously from http(s).request(): the stack still shows who asked. The method is
// not in Node's typings, hence Reflect.
const addRequest: unknown = Reflect.get(Agent.prototype, 'addRequest');
if (typeof addRequest !== 'function') throw new Error('probe: http.Agent has no addRequest');
Reflect.set(Agent.prototype, 'addRequest', function countedAddRequest(this: Agent, ...args: unknown[]): unknown {
  const [req] = args;
  const host = req instanceof ClientRequest ? req.getHeader('host') : undefined;
  if (req instanceof ClientRequest && typeof host === 'string' && Number(host.split(':').pop()) === apiPort) {
    const key = `${callerOf(req.getHeader('user-agent'))} ${verbAndResource(req.method, req.path)}`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
  }
  return Reflect.apply(addRequest, this, args);
});

const write = Socket.prototype.write;
Socket.prototype.write = function countedWrite(this: Socket, ...args: unknown[]): boolean {
  const [chunk] = args;
  if (this.remotePort === routerPort && chunk instanceof Uint8Array && chunk.length > 1 && chunk[chunk.length - 1] === 0) routerRoundTrips++;
  return Boolean(Reflect.apply(write, this, args));
};

process.on('SIGUSR2', () => {
  seq++;
  writeFileSync(`${out}.tmp`, JSON.stringify({ seq, requests: Object.fromEntries(requests), routerRoundTrips }));
  renameSync(`${out}.tmp`, out); // the bench never reads a half-written file
});
