/**
 * Shared addresses through the all-in-one controller (real API server, RouterOS simulator):
 * Services with one allow-shared-ip key hold one address on ports that do not overlap, each
 * port reaches its own Service's endpoints (the packet tracer follows the router's rules), and
 * releasing one Service leaves the others' rules and the address's advertisement in place; the
 * last one frees the address.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdersOf } from '../../lib/core/sharing.js';
import { claimNameOf } from '../../lib/k8s/claims.js';
import { getClaim, getService } from '../../lib/k8s/typed.js';
import type { RouterState } from '../../lib/router/state.js';
import { uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';
import { SEED } from '../program/setup.js';
import { createTracer } from '../tracer/index.js';
import { eventually, startE2E, type E2E } from './stack.js';

let e2e: E2E;
let make: ReturnType<typeof objects>;
const ns = uniq('shared');
const pool = uniq('shared-pool');
const IP = '198.18.70.3';
const LB = { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller' };
const SHARE = 'mikrolb.de/allow-shared-ip';

beforeAll(async () => {
  e2e = await startE2E(SEED, { resyncIntervalMs: 600_000 });
  make = objects(e2e.kube);
  await make.namespace(ns);
  await make.pool(pool, { ipFamily: 'IPv4', addresses: ['198.18.70.0/29'], autoAssign: false, interfaceName: 'ether1' });
});

afterAll(async () => {
  await make.cleanup();
  await e2e.stop();
});

/** A Service on one port with one ready endpoint behind it. */
async function service(name: string, port: number, endpoint: string, annotations: Record<string, string>): Promise<void> {
  await make.service(ns, name, { ...LB, ports: [{ name: 'p', port, protocol: 'TCP', targetPort: port + 8000 }] }, annotations);
  await e2e.kube.create('EndpointSlice', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${name}-x`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4', endpoints: [{ addresses: [endpoint], conditions: { ready: true } }], ports: [{ name: 'p', port: port + 8000, protocol: 'TCP' }],
  });
}

const ingress = async (name: string): Promise<string | undefined> => (await getService(e2e.kube, ns, name))?.status?.loadBalancer?.ingress?.[0]?.ip;

async function programmed(name: string): Promise<void> {
  await eventually(async () => {
    const [a] = await make.allocationsOf(ns, name);
    expect([a?.status?.phase, a?.status?.address, await ingress(name)]).toEqual(['Programmed', IP, IP]);
  }, 30_000);
}

async function reason(name: string): Promise<string | undefined> {
  const [a] = await make.allocationsOf(ns, name);
  return a?.status?.conditions?.find((c) => c.type === 'Ready')?.reason;
}

/** Where a connection from outside to the shared address on `port` ends up. */
function reach(state: RouterState, port: number): string {
  const t = createTracer(state).trace({ srcAddress: '203.0.113.7', srcPort: 40000 + port, dstAddress: IP, dstPort: port, protocol: 'tcp', inInterface: 'ether1' });
  if (!t.ok) throw new Error(t.message);
  return t.natState.dstnat ? `${t.verdict} ${t.dstAddress}:${t.dstPort ?? ''}` : t.verdict;
}

const advertisements = (s: RouterState) => (s.menus['/ip/address'] ?? []).filter((e) => e.address === `${IP}/32`);
/** The Services (of `candidates`) whose allocations the address's claim lists as holders. */
const holderNames = async (candidates: readonly string[]): Promise<string[]> => {
  const c = await getClaim(e2e.kube, claimNameOf(IP) ?? '');
  const uids = new Set(c ? holdersOf(c.spec).map((h) => h.allocationUID) : []);
  const out: string[] = [];
  for (const name of candidates) if ((await make.allocationsOf(ns, name)).some((a) => uids.has(a.metadata.uid ?? ''))) out.push(name);
  return out;
};

describe('shared addresses (real API server, RouterOS simulator, packet tracer)', () => {
  it('two Services with one key on different ports both publish the address; each port reaches its own endpoints', async () => {
    await service('https', 443, '10.244.5.1', { 'mikrolb.de/load-balancer-ips': IP, [SHARE]: 'web' });
    await programmed('https');
    // MetalLB's annotation is honoured too; the address is named explicitly (spec.loadBalancerIP)
    await make.service(ns, 'http', { ...LB, loadBalancerIP: IP, ports: [{ name: 'p', port: 80, protocol: 'TCP', targetPort: 8080 }] }, { 'metallb.io/allow-shared-ip': 'web' });
    await e2e.kube.create('EndpointSlice', {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'http-x', namespace: ns, labels: { 'kubernetes.io/service-name': 'http' } },
      addressType: 'IPv4', endpoints: [{ addresses: ['10.244.6.1'], conditions: { ready: true } }], ports: [{ name: 'p', port: 8080, protocol: 'TCP' }],
    });
    await programmed('http');
    await eventually(async () => {
      const s = e2e.sim.state();
      expect(reach(s, 443)).toBe('accept 10.244.5.1:8443');
      expect(reach(s, 80)).toBe('accept 10.244.6.1:8080');
      expect(advertisements(s)).toHaveLength(1);
    }, 30_000);
    expect(await holderNames(['https', 'http'])).toEqual(['https', 'http']);
  });

  it('an overlapping port, another key or no key keeps AddressAlreadyUsed', async () => {
    await service('clash', 80, '10.244.7.1', { 'mikrolb.de/load-balancer-ips': IP, [SHARE]: 'web' });
    await service('mail', 25, '10.244.7.2', { 'mikrolb.de/load-balancer-ips': IP, [SHARE]: 'mail' });
    await service('plain', 22, '10.244.7.3', { 'mikrolb.de/load-balancer-ips': IP });
    await eventually(async () => {
      expect([await reason('clash'), await reason('mail'), await reason('plain')]).toEqual(['AddressAlreadyUsed', 'AddressAlreadyUsed', 'AddressAlreadyUsed']);
    }, 30_000);
    const [clash] = await make.allocationsOf(ns, 'clash');
    expect(clash?.status?.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(/uses TCP\/80 on it/);
    for (const name of ['clash', 'mail', 'plain']) await e2e.kube.remove('Service', name, ns);
  });

  it('a Service with the key and no address joins the shared address of its pool rather than a fresh one', async () => {
    await service('alt', 8443, '10.244.8.1', { 'mikrolb.de/load-balancer-pools': pool, [SHARE]: 'web' });
    await programmed('alt');
    await eventually(async () => expect(reach(e2e.sim.state(), 8443)).toBe('accept 10.244.8.1:16443'), 30_000);
  });

  it('releasing one keeps the others working; the last one frees the address and its advertisement', async () => {
    const [adv] = advertisements(e2e.sim.state());
    expect(adv?.comment).toBe(`mikrolb:default:svc=ip-${IP}:adv:${IP}`);
    await e2e.kube.remove('Service', 'https', ns);
    await eventually(async () => {
      expect(await e2e.kube.get('Service', 'https', ns)).toBeUndefined();
      const s = e2e.sim.state();
      expect(reach(s, 443)).not.toMatch(/10\.244\.5\.1/);
      expect(reach(s, 80)).toBe('accept 10.244.6.1:8080');
      expect(reach(s, 8443)).toBe('accept 10.244.8.1:16443');
      expect(advertisements(s)).toHaveLength(1);
      expect(await holderNames(['https', 'http', 'alt'])).toEqual(['http', 'alt']);
    }, 30_000);
    expect(await ingress('http')).toBe(IP);
    // the very entry: never taken off and added again
    expect(advertisements(e2e.sim.state()).map((e) => e['.id'])).toEqual([adv?.['.id']]);

    await e2e.kube.remove('Service', 'http', ns);
    await e2e.kube.remove('Service', 'alt', ns);
    await eventually(async () => {
      expect(await getClaim(e2e.kube, claimNameOf(IP) ?? '')).toBeUndefined();
      const s = e2e.sim.state();
      expect(advertisements(s)).toEqual([]);
      expect(Object.values(s.menus).flat().filter((e) => (e.comment ?? '').includes(IP))).toEqual([]);
    }, 30_000);
  });

  // Found by the chaos suite once its Services shared addresses (seed 2096719484): the address's
  // own entries (advertisement, LB list) belong to the address while it is shared and to the
  // Service while it is not; a change of key, or of address, must hand them over or take them
  // away, or the router refuses the Service's own ("already have such address") and a freed
  // address stays advertised.
  const ownersOfAddress = (address: string): string[] =>
    Object.values(e2e.sim.state().menus).flat().filter((e) => e.address === `${address}/32` || (e.list !== undefined && e.address === address))
      .map((e) => /svc=([^:]+):(\w+(?:-\w+)?):/.exec(e.comment ?? '')?.slice(1, 3).join(' ') ?? '?').sort();
  const readyNow = async (name: string): Promise<(string | undefined)[]> => {
    const [a] = await make.allocationsOf(ns, name);
    return [a?.status?.phase, a?.status?.conditions?.find((c) => c.type === 'Ready')?.status];
  };
  const uidOf = async (name: string): Promise<string> => (await getService(e2e.kube, ns, name))?.metadata.uid ?? '?';
  const annotate = async (name: string, change: Record<string, string | null>): Promise<void> => {
    await eventually(async () => {
      const svc = await getService(e2e.kube, ns, name);
      if (!svc) throw new Error(`no Service ${name}`);
      const annotations = Object.fromEntries(Object.entries({ ...svc.metadata.annotations, ...change }).filter((e): e is [string, string] => e[1] !== null));
      await e2e.kube.replace('Service', { ...svc, metadata: { ...svc.metadata, annotations } });
    }, 10_000);
  };

  it('a Service alone on its address that loses its key, or gains one, keeps it programmed; the address\'s entries change hands', async () => {
    await service('solo', 443, '10.244.9.1', { 'mikrolb.de/load-balancer-ips': IP, [SHARE]: 'web' });
    await programmed('solo');
    expect(ownersOfAddress(IP)).toEqual([`ip-${IP} adv`, `ip-${IP} lb-list`]);
    const uid = await uidOf('solo');
    await annotate('solo', { [SHARE]: null });
    await eventually(async () => {
      expect(ownersOfAddress(IP)).toEqual([`${uid} adv`, `${uid} lb-list`]);
      expect(await readyNow('solo')).toEqual(['Programmed', 'True']);
    }, 30_000);
    await annotate('solo', { [SHARE]: 'web' });
    await eventually(async () => {
      expect(ownersOfAddress(IP)).toEqual([`ip-${IP} adv`, `ip-${IP} lb-list`]);
      expect(await readyNow('solo')).toEqual(['Programmed', 'True']);
    }, 30_000);
    expect(reach(e2e.sim.state(), 443)).toBe('accept 10.244.9.1:8443');
  });

  it('a Service alone on a shared address that moves to another takes the old one\'s entries away', async () => {
    const next = '198.18.70.4';
    await annotate('solo', { 'mikrolb.de/load-balancer-ips': next });
    await eventually(async () => {
      const [a] = await make.allocationsOf(ns, 'solo');
      expect([a?.status?.phase, a?.status?.address]).toEqual(['Programmed', next]);
      expect(ownersOfAddress(IP)).toEqual([]);
      expect(ownersOfAddress(next)).toEqual([`ip-${next} adv`, `ip-${next} lb-list`]);
      expect(await getClaim(e2e.kube, claimNameOf(IP) ?? '')).toBeUndefined();
    }, 30_000);
    await e2e.kube.remove('Service', 'solo', ns);
    await eventually(async () => {
      expect(await e2e.kube.get('Service', 'solo', ns)).toBeUndefined();
      expect(ownersOfAddress(next)).toEqual([]);
    }, 30_000);
  });

  it('Services of one key and no address, created together and again right after their deletion, share an address each time', async () => {
    // `kubectl apply` of DNS over TCP and UDP with only a key took two addresses; and so did
    // `kubectl delete` and `apply` again while the controller remembered the old ones
    const together = uniq('together-pool');
    await make.pool(together, { ipFamily: 'IPv4', addresses: ['198.18.71.0/28'], autoAssign: false, interfaceName: 'ether1' });
    const annotations = { 'mikrolb.de/load-balancer-pools': together, [SHARE]: 'dns' };
    const names = ['dns-tcp', 'dns-udp'];
    const seen: string[][] = [];
    for (let round = 0; round < 3; round++) {
      await Promise.all(names.map((name, i) => make.service(ns, name, { ...LB, ports: [{ name: 'dns', port: 53, protocol: i === 0 ? 'TCP' : 'UDP' }] }, annotations)));
      await eventually(async () => {
        const got = await Promise.all(names.map(async (n) => [(await make.allocationsOf(ns, n))[0]?.status?.phase, await ingress(n)]));
        expect(got.map(([phase]) => phase)).toEqual(['Programmed', 'Programmed']);
        // program writes an allocation's status and its Service's ingress together: a moment may
        // show the one before the other
        expect(got.map(([, ip]) => ip === undefined)).toEqual([false, false]);
        seen.push(got.map(([, ip]) => ip ?? '-'));
      }, 30_000);
      await Promise.all(names.map((n) => e2e.kube.remove('Service', n, ns)));
      await eventually(async () => {
        for (const n of names) expect(await e2e.kube.get('Service', n, ns)).toBeUndefined();
      }, 30_000);
    }
    expect(seen).toHaveLength(3);
    for (const [tcp, udp] of seen) {
      expect(tcp).toMatch(/^198\.18\.71\.\d+$/);
      expect(udp).toBe(tcp);
    }
  });
});
