/**
 * The minimal reference controller of `npm run bench` (issue 14): the API server's side of
 * "give each LoadBalancer Service an address" and nothing else. It lists and watches Services
 * and, per Service of our class, sends one merge patch adding the finalizer (guarded by the
 * resourceVersion it saw) and one status patch with an address from a counter. No pools, no
 * allocations, no router: the ceiling a controller on this machine and API server can reach.
 *
 * Compiled by the bench (test/bench/controllers.ts) and run as a child process, like ours, so
 * its CPU and memory are measured the same way. Talks to the API server with node:https, as a
 * ServiceAccount token (BENCH_TOKEN_FILE) like a controller in a pod, or with a client
 * certificate (BENCH_CERT/KEY files); BENCH_API_SERVER and BENCH_CA name the server. Prints
 * `ready` on stdout once it lists and watches.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { z } from 'zod';

const FINALIZER = 'mikrolb.de/finalizer';

const env = z.object({
  BENCH_API_SERVER: z.url(),
  BENCH_CA: z.string().min(1),
  BENCH_TOKEN_FILE: z.string().min(1).optional(),
  BENCH_CERT: z.string().min(1).optional(),
  BENCH_KEY: z.string().min(1).optional(),
  LOAD_BALANCER_CLASS_NAME: z.string().default('mikrolb.de/controller'),
  REFERENCE_WORKERS: z.coerce.number().int().positive().default(16),
}).refine((e) => e.BENCH_TOKEN_FILE !== undefined || (e.BENCH_CERT !== undefined && e.BENCH_KEY !== undefined), {
  error: 'set BENCH_TOKEN_FILE, or BENCH_CERT and BENCH_KEY',
}).parse(process.env);

const ServiceSchema = z.object({
  metadata: z.object({
    name: z.string(), namespace: z.string(), uid: z.string(), resourceVersion: z.string(),
    finalizers: z.array(z.string()).optional(), deletionTimestamp: z.string().optional(),
  }),
  spec: z.object({ type: z.string().optional(), loadBalancerClass: z.string().optional() }).optional(),
  status: z.object({ loadBalancer: z.object({ ingress: z.array(z.unknown()).optional() }).optional() }).optional(),
});
type Service = z.infer<typeof ServiceSchema>;
const ListSchema = z.object({ metadata: z.object({ resourceVersion: z.string() }), items: z.array(z.unknown()) });
const WatchEventSchema = z.object({ type: z.string(), object: z.object({ metadata: z.object({ resourceVersion: z.string().optional() }).loose() }).loose() });

const server = new URL(env.BENCH_API_SERVER);
const clientCert = env.BENCH_TOKEN_FILE === undefined && env.BENCH_CERT && env.BENCH_KEY ? { cert: readFileSync(env.BENCH_CERT), key: readFileSync(env.BENCH_KEY) } : {};
const agent = new Agent({ ca: readFileSync(env.BENCH_CA), ...clientCert, keepAlive: true, maxSockets: env.REFERENCE_WORKERS + 2 });
const auth: Record<string, string> = env.BENCH_TOKEN_FILE === undefined ? {} : { authorization: `Bearer ${readFileSync(env.BENCH_TOKEN_FILE, 'utf8').trim()}` };

interface Answer { status: number; body: unknown }

function call(method: string, path: string, body?: unknown, contentType = 'application/merge-patch+json'): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({
      agent, method, hostname: server.hostname, port: server.port, path,
      headers: { accept: 'application/json', ...auth, ...(payload === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const ours = (s: Service): boolean => s.spec?.type === 'LoadBalancer' && s.spec.loadBalancerClass === env.LOAD_BALANCER_CLASS_NAME && !s.metadata.deletionTimestamp;
const needsWork = (s: Service): boolean => ours(s) && (!s.metadata.finalizers?.includes(FINALIZER) || !s.status?.loadBalancer?.ingress?.length);

let counter = 0;
const addressOf = new Map<string, string>();
const done = new Set<string>();
/** Services a worker is on: the watch echo of its own finalizer write must not queue them again. */
const busy = new Set<string>();
const latest = new Map<string, Service>();
const queue: string[] = [];
const idle: (() => void)[] = [];

function offer(s: Service): void {
  if (done.has(s.metadata.uid) || busy.has(s.metadata.uid) || !needsWork(s)) return;
  const key = `${s.metadata.namespace}/${s.metadata.name}`;
  if (!latest.has(key)) queue.push(key);
  latest.set(key, s);
  idle.shift()?.();
}

const servicePath = (s: Service, sub = ''): string => `/api/v1/namespaces/${s.metadata.namespace}/services/${s.metadata.name}${sub}`;

/** Finalizer (resourceVersion-guarded), then the ingress; a conflict re-reads the Service. */
async function reconcile(first: Service): Promise<void> {
  let s = first;
  for (let attempt = 0; attempt < 10; attempt++) {
    if (!ours(s)) return;
    if (!s.metadata.finalizers?.includes(FINALIZER)) {
      const res = await call('PATCH', servicePath(s), { metadata: { finalizers: [...(s.metadata.finalizers ?? []), FINALIZER], resourceVersion: s.metadata.resourceVersion } });
      if (res.status === 409) {
        const fresh = await call('GET', servicePath(s));
        s = ServiceSchema.parse(fresh.body);
        continue;
      }
      if (res.status !== 200) throw new Error(`finalizer of ${s.metadata.name}: HTTP ${res.status}`);
      s = ServiceSchema.parse(res.body);
    }
    if (!s.status?.loadBalancer?.ingress?.length) {
      let ip = addressOf.get(s.metadata.uid);
      if (ip === undefined) {
        counter++;
        ip = `10.${128 + (counter >> 16)}.${(counter >> 8) & 255}.${counter & 255}`;
        addressOf.set(s.metadata.uid, ip);
      }
      const res = await call('PATCH', servicePath(s, '/status'), { status: { loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } } });
      if (res.status !== 200) throw new Error(`status of ${s.metadata.name}: HTTP ${res.status}`);
    }
    done.add(s.metadata.uid);
    return;
  }
}

async function worker(): Promise<void> {
  for (;;) {
    const key = queue.shift();
    if (key === undefined) {
      await new Promise<void>((r) => idle.push(r));
      continue;
    }
    const s = latest.get(key);
    latest.delete(key);
    if (s === undefined || done.has(s.metadata.uid)) continue;
    busy.add(s.metadata.uid);
    const failed = await reconcile(s).then(() => false, (e: unknown) => {
      process.stderr.write(`reference: ${e instanceof Error ? e.message : String(e)}\n`);
      return true;
    });
    busy.delete(s.metadata.uid);
    if (failed) setTimeout(() => offer(s), 200);
  }
}

/** Newline-delimited watch events until the stream ends; answers the last resourceVersion seen. */
function watch(from: string): Promise<string | undefined> {
  let rv: string | undefined = from;
  return new Promise((resolve) => {
    const req = request({
      agent, method: 'GET', hostname: server.hostname, port: server.port,
      path: `/api/v1/services?watch=1&allowWatchBookmarks=true&resourceVersion=${from}`, headers: { accept: 'application/json', ...auth },
    }, (res) => {
      let buffered = '';
      res.on('data', (c: Buffer) => {
        buffered += c.toString('utf8');
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const event = WatchEventSchema.safeParse(JSON.parse(line));
          if (!event.success) continue;
          if (event.data.type === 'ERROR') rv = undefined;
          else rv = event.data.object.metadata.resourceVersion ?? rv;
          if (event.data.type === 'ADDED' || event.data.type === 'MODIFIED') {
            const s = ServiceSchema.safeParse(event.data.object);
            if (s.success) offer(s.data);
          }
        }
      });
      res.on('end', () => resolve(rv));
      res.on('error', () => resolve(rv));
    });
    req.on('error', () => resolve(rv));
    req.end();
  });
}

async function listAll(): Promise<string> {
  const res = await call('GET', '/api/v1/services');
  const list = ListSchema.parse(res.body);
  for (const item of list.items) {
    const s = ServiceSchema.safeParse(item);
    if (s.success) offer(s.data);
  }
  return list.metadata.resourceVersion;
}

for (let i = 0; i < env.REFERENCE_WORKERS; i++) void worker();
let rv = await listAll();
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
for (;;) rv = (await watch(rv)) ?? (await listAll());
