import { isNotFound } from '../../lib/k8s/errors.js';
import { LABEL_CLAIM_POOL } from '../../lib/k8s/keys.js';
import { ServiceSchema, type Service } from '../../lib/k8s/core-objects.js';
import { resourcePath, RESOURCES, type Kind } from '../../lib/k8s/resources.js';
import type { Transport } from '../../lib/k8s/rest.js';
import type { Rng } from './rng.js';
import { annotations, loadBalancerIP, NAMESPACE, poolObject, POOLS, ports, serviceObject, sliceObject, TIER_LABEL, typeSpec, V4A_EXCLUDED, type Family } from './shapes.js';
import { messageOf } from '../../lib/errors.js';
import * as z from 'zod';

const ClaimListSchema = z.object({ items: z.array(z.object({ spec: z.object({ allocationName: z.string() }) })) });
const PoolMetaSchema = z.object({ metadata: z.object({ deletionTimestamp: z.string().optional() }) });
const NamespaceLabelsSchema = z.object({ metadata: z.object({ labels: z.record(z.string(), z.string()).optional() }) });
const PoolSpecSchema = z.object({ spec: z.object({ interfaceName: z.string().optional(), advertise: z.boolean().optional(), addresses: z.array(z.string()) }) });

/** What the workload did, for the summary. */
export interface WorkloadCounts {
  created: number;
  deleted: number;
  recreated: number;
  /** Created, then deleted within 1.5 s. */
  flashes: number;
  changed: { annotations: number; ports: number; slices: number; type: number; pools: number; namespaces: number };
  /** Writes refused or lost (API server down, validation): the run goes on. */
  failedWrites: number;
}

export interface Workload {
  /** One random create/change/delete on a random Service slot. */
  step(): Promise<string>;
  /** Resolves with the description of the next step that completes. */
  nextStep(): Promise<string>;
  /**
   * Deletes a live Service while `during(name)` runs (program invocations in flight): the
   * program/release race, aimed. Undefined when the slot picked holds no live Service.
   */
  deleteDuring(during: (name: string) => Promise<void>): Promise<string | undefined>;
  counts: WorkloadCounts;
}

const TIMEOUT = { timeoutMs: 10_000 };

/** Services `s-0`..`s-<n-1>` in the chaos namespace, created, changed and deleted at random. */
export function workload(transport: Transport, rng: Rng, services: number): Workload {
  const share = rng.fork('sharing'); // see sharing() in shapes.ts
  const tiers = rng.fork('tiers'); // see relabelNamespace
  const counts: WorkloadCounts = { created: 0, deleted: 0, recreated: 0, flashes: 0, changed: { annotations: 0, ports: 0, slices: 0, type: 0, pools: 0, namespaces: 0 }, failedWrites: 0 };
  const path = (kind: Kind, name?: string) => resourcePath(RESOURCES[kind], NAMESPACE, name);
  const patch = (kind: Kind, name: string, body: unknown) =>
    transport({ method: 'PATCH', path: path(kind, name), body, contentType: 'application/merge-patch+json', ...TIMEOUT });
  const familyOf = (svc: Service): Family => {
    const f = svc.spec.ipFamilies ?? ['IPv4'];
    return f.length > 1 ? 'dual' : f[0] === 'IPv6' ? 'v6' : 'v4';
  };

  async function read(name: string): Promise<Service | undefined> {
    try {
      const parsed = ServiceSchema.safeParse(await transport({ method: 'GET', path: path('Service', name), ...TIMEOUT }));
      return parsed.success ? parsed.data : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async function writeSlices(name: string, slot: number, family: Family, svcPorts: readonly { name?: string; protocol?: string }[]): Promise<void> {
    const types: ('IPv4' | 'IPv6')[] = family === 'v4' ? ['IPv4'] : family === 'v6' ? ['IPv6'] : ['IPv4', 'IPv6'];
    for (const [i, t] of types.entries()) {
      const slice = sliceObject(rng, name, i === 0 ? 'a' : 'b', t, slot, svcPorts);
      try {
        await transport({ method: 'PUT', path: resourcePath(RESOURCES.EndpointSlice, NAMESPACE, slice.metadata.name), body: slice, ...TIMEOUT });
      } catch (e) {
        if (!isNotFound(e)) throw e;
        await transport({ method: 'POST', path: path('EndpointSlice'), body: slice, ...TIMEOUT });
      }
    }
  }

  async function create(name: string, slot: number): Promise<string> {
    const family = rng.pick<Family>(['v4', 'v4', 'v4', 'v6', 'dual']);
    const svc = serviceObject(rng, name, family, share);
    await transport({ method: 'POST', path: path('Service'), body: svc, ...TIMEOUT });
    counts.created++;
    await writeSlices(name, slot, family, svc.spec.ports);
    return `create ${name} (${family}, ${svc.spec.type}, ${JSON.stringify(svc.metadata.annotations)})`;
  }

  async function remove(name: string): Promise<void> {
    await transport({ method: 'DELETE', path: path('Service', name), ...TIMEOUT });
    await transport({ method: 'DELETE', path: path('EndpointSlice'), query: { labelSelector: `kubernetes.io/service-name=${name}` }, ...TIMEOUT });
    counts.deleted++;
  }

  /** Created and deleted again while its allocations are still being decided and programmed. */
  async function flash(name: string, slot: number): Promise<string> {
    const created = await create(name, slot);
    const ms = rng.int(0, 1500);
    await new Promise((r) => setTimeout(r, ms));
    await remove(name);
    counts.flashes++;
    return `flash: ${created}, deleted after ${ms} ms`;
  }

  async function change(svc: Service, slot: number): Promise<string> {
    const name = svc.metadata.name;
    const family = familyOf(svc);
    const roll = rng.next();
    if (roll < 0.3) {
      const a = annotations(rng, family, share);
      // the deprecated field, on a LoadBalancer only (the API server refuses it on another type)
      const lbIP = svc.spec.type === 'LoadBalancer' ? loadBalancerIP(rng, family) : null;
      await patch('Service', name, { metadata: { annotations: a }, spec: { loadBalancerIP: lbIP } });
      counts.changed.annotations++;
      return `annotate ${name} ${JSON.stringify(a)}${lbIP ? `, spec.loadBalancerIP ${lbIP}` : ''}`;
    }
    if (roll < 0.45) {
      const p = ports(rng);
      await patch('Service', name, { spec: { ports: p } });
      counts.changed.ports++;
      return `ports ${name} ${p.map((x) => `${x.protocol}/${x.port}`).join(',')}`;
    }
    if (roll < 0.7) {
      await writeSlices(name, slot, family, svc.spec.ports ?? []);
      counts.changed.slices++;
      return `scale slices of ${name}`;
    }
    if (roll < 0.8) {
      const toLb = svc.spec.type !== 'LoadBalancer';
      await patch('Service', name, { spec: typeSpec(toLb ? 'ours' : 'clusterIP') });
      counts.changed.type++;
      return `${name} becomes ${toLb ? 'LoadBalancer' : 'ClusterIP'}`;
    }
    if (roll < 0.9) {
      await remove(name);
      return `delete ${name}`;
    }
    await remove(name);
    // the old Service waits for its finalizer: re-create the moment it is gone
    for (let i = 0; i < 50 && (await read(name)); i++) await new Promise((r) => setTimeout(r, 100));
    counts.recreated++;
    return `re-create ${name}: ${await create(name, slot)}`;
  }

  /**
   * An operator edits a pool: how its addresses are advertised (chaos-v4b moves between ether2
   * and ether1, chaos-quiet starts or stops advertising on the interface of its route, ether2),
   * or which addresses it has (chaos-v4a excludes five of its addresses, some of them held, and
   * takes them back). Every Service and reservation holding one of their addresses is
   * programmed again, while their own changes go on; allocations waiting on the pool are
   * decided again when it grows.
   */
  async function editPool(): Promise<string> {
    const name = rng.pick(['chaos-v4b', 'chaos-quiet', 'chaos-v4a']);
    const poolPath = resourcePath(RESOURCES.IPPool, undefined, name);
    const pool = PoolSpecSchema.parse(await transport({ method: 'GET', path: poolPath, ...TIMEOUT }));
    const spec = name === 'chaos-v4b'
      ? { interfaceName: pool.spec.interfaceName === 'ether1' ? 'ether2' : 'ether1' }
      : name === 'chaos-quiet'
        ? { advertise: pool.spec.advertise === false }
        : { addresses: pool.spec.addresses.includes(V4A_EXCLUDED) ? pool.spec.addresses.filter((a) => a !== V4A_EXCLUDED) : [...pool.spec.addresses, V4A_EXCLUDED] };
    await transport({ method: 'PATCH', path: poolPath, body: { spec }, contentType: 'application/merge-patch+json', ...TIMEOUT });
    counts.changed.pools++;
    return `pool ${name} ${JSON.stringify(spec)}`;
  }

  /**
   * An operator deletes chaos-quiet (Services and a reservation name it, or ask for its
   * addresses; it overlaps no other pool, so which pool keeps an address never depends on the
   * order the pools were created in), and creates it again once it is gone. Its deletion waits while allocations hold its addresses (meanwhile
   * it hands out nothing): the operator deletes one of them at a time, which allocate creates
   * again for its Service. Once the pool is gone, Services naming it fail until it is back.
   */
  async function cyclePool(): Promise<string> {
    const pool = POOLS.find((p) => p.name === 'chaos-quiet');
    if (!pool) throw new Error('chaos-quiet is not among the chaos pools');
    const poolPath = resourcePath(RESOURCES.IPPool, undefined, pool.name);
    let current: z.infer<typeof PoolMetaSchema> | undefined;
    try {
      current = PoolMetaSchema.parse(await transport({ method: 'GET', path: poolPath, ...TIMEOUT }));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    counts.changed.pools++;
    if (!current) {
      await transport({ method: 'POST', path: resourcePath(RESOURCES.IPPool), body: poolObject(pool), ...TIMEOUT });
      return `pool ${pool.name} created again`;
    }
    if (current.metadata.deletionTimestamp) {
      // as its DeletionBlocked condition says: delete the allocations holding its addresses
      const claims = ClaimListSchema.parse(await transport({ method: 'GET', path: resourcePath(RESOURCES.IPAddressClaim), query: { labelSelector: `${LABEL_CLAIM_POOL}=${pool.name}` }, ...TIMEOUT })).items;
      if (claims.length === 0) return `pool ${pool.name} is still being deleted`;
      const holder = rng.pick(claims).spec.allocationName;
      await transport({ method: 'DELETE', path: resourcePath(RESOURCES.IPAllocation, undefined, holder), ...TIMEOUT });
      return `pool ${pool.name} is still being deleted: delete allocation ${holder}, which holds one of its addresses`;
    }
    await transport({ method: 'DELETE', path: poolPath, ...TIMEOUT });
    return `delete pool ${pool.name}`;
  }

  /**
   * An operator moves the chaos namespace between tiers (gold ↔ silver): chaos-tenant serves
   * its Services only while it is gold, so the addresses they hold from it are given back (and
   * taken again) at once. Drawn from a generator of its own, so a seed's other draws stay what
   * they were before tiers were part of the run.
   */
  async function relabelNamespace(): Promise<string> {
    const nsPath = resourcePath(RESOURCES.Namespace, undefined, NAMESPACE);
    const ns = NamespaceLabelsSchema.parse(await transport({ method: 'GET', path: nsPath, ...TIMEOUT }));
    const tier = ns.metadata.labels?.[TIER_LABEL] === 'gold' ? 'silver' : 'gold';
    await transport({ method: 'PATCH', path: nsPath, body: { metadata: { labels: { [TIER_LABEL]: tier } } }, contentType: 'application/merge-patch+json', ...TIMEOUT });
    counts.changed.namespaces++;
    return `namespace ${NAMESPACE} is ${tier} now`;
  }

  async function step(): Promise<string> {
    const slot = rng.int(0, services - 1);
    const name = `s-${slot}`;
    try {
      if (tiers.chance(0.01)) return await relabelNamespace();
      if (rng.chance(0.03)) return await editPool();
      if (rng.chance(0.01)) return await cyclePool();
      const svc = await read(name);
      if (svc?.metadata.deletionTimestamp) return `${name} is being deleted`;
      if (!svc && rng.chance(0.2)) return await flash(name, slot);
      if (!svc) return await create(name, slot);
      return await change(svc, slot);
    } catch (e) {
      counts.failedWrites++;
      return `failed on ${name}: ${messageOf(e)}`;
    }
  }

  let waiting: ((what: string) => void)[] = [];
  return {
    counts,
    step: async () => {
      const what = await step();
      const wake = waiting;
      waiting = [];
      for (const w of wake) w(what);
      return what;
    },
    nextStep: () => new Promise((r) => waiting.push(r)),
    deleteDuring: async (during) => {
      const name = `s-${rng.int(0, services - 1)}`;
      const svc = await read(name).catch(() => undefined);
      if (!svc || svc.metadata.deletionTimestamp) return undefined;
      const inFlight = during(name);
      try {
        await remove(name);
      } catch (e) {
        counts.failedWrites++;
        await inFlight;
        return `race on ${name}: delete failed: ${messageOf(e)}`;
      }
      await inFlight;
      return `race: deleted ${name} while program ran for it`;
    },
  };
}
