import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProgram } from '../../functions/program/handler.js';
import { objectInvocation } from '../../lib/events/cloudevent.js';
import { defaultPause } from '../../lib/k8s/conflict.js';
import { silentLogger } from '../../lib/log/logger.js';
import { connectRouter } from '../../lib/routeros/client/index.js';
import { uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { SEED } from '../program/setup.js';
import { eventually, startE2E, type E2E } from './stack.js';

/**
 * A router that was away long enough for the retries to back off far: once it answers again,
 * every Service waiting on it is programmed within seconds, not at the end of its own backoff.
 * The bridge retries at most 30 s apart here (production: RETRY_MAX_DELAY, 60 s); one
 * invocation per function probes the router at most 5 s apart, and its success wakes the rest.
 */

const OUTAGE_MS = 40_000;
const SERVICES = 6;

let e2e: E2E;
let make: ReturnType<typeof objects>;
const ns = uniq('recovery');
const pool = uniq('recovery-pool');
const LB = { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' };
const names = Array.from({ length: SERVICES }, (_, i) => `svc-${i}`);

beforeAll(async () => {
  e2e = await startE2E(SEED, { retry: { baseMs: 1000, maxMs: 30_000 } });
  make = objects(e2e.kube);
  await make.namespace(ns);
  await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.53.1-198.18.53.50'], autoAssign: false, interfaceName: 'ether1' });
});

afterAll(async () => {
  await e2e.sim.faults.comeBack().catch(() => undefined);
  await make.cleanup();
  await e2e.stop();
});

async function phases(): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  for (const n of names) out.set(n, (await make.allocationsOf(ns, n))[0]?.status?.phase);
  return out;
}

describe('a router that comes back after a long outage', () => {
  it('has every Service that waited on it programmed within seconds of its return', async () => {
    await e2e.sim.faults.goAway();
    for (const n of names) {
      await make.service(ns, n, LB, { 'mikrolb.de/load-balancer-pools': pool });
      await e2e.kube.create('EndpointSlice', {
        apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${n}-x`, namespace: ns, labels: { 'kubernetes.io/service-name': n } },
        addressType: 'IPv4', endpoints: [{ addresses: ['10.244.5.1'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      });
    }
    // addresses are taken while the router is away; nothing can be programmed
    await eventually(async () => expect([...(await phases()).values()].every((p) => p === 'Allocated')).toBe(true));
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    expect([...(await phases()).values()].filter((p) => p === 'Programmed')).toEqual([]);

    const back = Date.now();
    await e2e.sim.faults.comeBack();
    const programmedAt = new Map<string, number>();
    await eventually(async () => {
      for (const [n, p] of await phases()) if (p === 'Programmed' && !programmedAt.has(n)) programmedAt.set(n, Date.now() - back);
      expect(programmedAt.size).toBe(SERVICES);
    }, 60_000, 100);
    const after = [...programmedAt.values()].sort((a, b) => a - b);
    console.log(`[recovery] programmed after the router came back: ${after.join(', ')} ms`);
    // the probe waits at most 5 s, then the others go at once; their own backoff would have
    // been 15–30 s by now
    expect(after.at(-1)).toBeLessThanOrEqual(12_000);
    expect(e2e.logs.entries.some((e) => e.msg.startsWith('A dependency answered again'))).toBe(true);

    for (const n of names) await e2e.kube.remove('Service', n, ns);
    await eventually(async () => {
      for (const n of names) expect(await make.allocationsOf(ns, n)).toEqual([]);
    });
  });
});

describe('a router failure recorded by a program run whose sender does not retry', () => {
  it('is retried by the bridge, which hears of it in the allocation\'s status, once the router answers', async () => {
    // found by the chaos suite (seed 1864800707, chaos/s-6): a duplicated event reached a
    // program instance while the router was away; it recorded the failure and answered "retry
    // later" to a sender that never retried, and the Service stayed not ready until the resync
    const name = 'told-once';
    await make.service(ns, name, LB, { 'mikrolb.de/load-balancer-pools': pool });
    const phase = async (): Promise<string | undefined> => (await make.allocationsOf(ns, name))[0]?.status?.phase;
    await eventually(async () => expect(await phase()).toBe('Programmed'));
    // another instance of program, with a router session of its own
    const router = connectRouter({ url: e2e.sim.url, username: 'mikrolb', password: 'pw', timeoutMs: 2000 });
    const other = createProgram({ kube: e2e.kube, router, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false }, now: () => new Date(), log: silentLogger(), retry: { attempts: 5, pause: defaultPause() } });
    try {
      await e2e.sim.faults.goAway();
      expect((await other(objectInvocation('update', { kind: 'Service', namespace: ns, name }))).kind).toBe('retry');
      const reason = async () => (await make.allocationsOf(ns, name))[0]?.status?.conditions?.find((c) => c.type === 'Programmed')?.reason;
      expect(await reason()).toBe('BackendError');
      const back = Date.now();
      await e2e.sim.faults.comeBack();
      await eventually(async () => expect(await phase()).toBe('Programmed'), 60_000, 100);
      console.log(`[recovery] programmed again ${Date.now() - back} ms after the router came back (resync: 5 minutes)`);
    } finally {
      await e2e.sim.faults.comeBack().catch(() => undefined);
      await router.close();
    }
  });
});
