import type { IPFamily } from '../ip/index.js';
import type { RouterState } from './state.js';
import { createTracer, type Connection, type Tracer } from '../../test/tracer/index.js';
import { seededRandom, tally } from '../../test/tracer/test-support.js';
import { applyPlanToState } from './apply.js';
import { advertisementEntry, globalEntries, mergeDesired, menusFor, serviceEntries, type DesiredMenus, type ServiceProgram } from './layout.js';
import type { Op } from './ops.js';
import { planState, type Scope } from './planner.js';

/** A home-lab router: WAN on ether1 (192.0.2.0/24, 2001:db8:ffff::/64), LAN on bridge (10.0.0.0/24, fd00::/64). */
export function baseRouter(): RouterState {
  return {
    version: '7.19.1',
    menus: {
      '/interface': [
        { '.id': '*1', name: 'ether1', type: 'ether', disabled: 'false' },
        { '.id': '*2', name: 'bridge', type: 'bridge', disabled: 'false' },
      ],
      '/ip/address': [
        { '.id': '*3', address: '192.0.2.1/24', interface: 'ether1', disabled: 'false' },
        { '.id': '*4', address: '10.0.0.1/24', interface: 'bridge', disabled: 'false' },
      ],
      '/ipv6/address': [
        { '.id': '*5', address: '2001:db8:ffff::1/64', interface: 'ether1', disabled: 'false' },
        { '.id': '*6', address: 'fd00::1/64', interface: 'bridge', disabled: 'false' },
      ],
      '/ip/route': [{ '.id': '*7', 'dst-address': '0.0.0.0/0', gateway: '192.0.2.254', disabled: 'false' }],
      '/ipv6/route': [{ '.id': '*8', 'dst-address': '::/0', gateway: '2001:db8:ffff::fe', disabled: 'false' }],
    },
  };
}

/** The base router with the user's own rules in built-in chains of both families, so "first in the chain" means something. */
export function routerWithForeignRules(): RouterState {
  const base = baseRouter();
  return {
    ...base,
    menus: {
      ...base.menus,
      '/ip/firewall/filter': [{ '.id': '*A1', chain: 'input', action: 'accept', 'in-interface': 'bridge' }],
      '/ip/firewall/nat': [{ '.id': '*A2', chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1' }],
      '/ipv6/firewall/filter': [{ '.id': '*A3', chain: 'forward', action: 'drop', 'in-interface': 'ether1' }],
      '/ipv6/firewall/nat': [{ '.id': '*A4', chain: 'srcnat', action: 'masquerade', 'out-interface': 'ether1' }],
    },
  };
}

/** Per family: the LB and SNAT addresses, ready endpoints, one not-ready endpoint, and the outside world. */
export const NET = {
  IPv4: { lb: '192.0.2.15', snat: '192.0.2.16', ready: ['10.0.0.5', '10.0.0.6', '10.0.0.7'], notReady: '10.0.0.8', other: '10.0.0.50', internet: '203.0.113.9' },
  IPv6: { lb: '2001:db8:ffff::15', snat: '2001:db8:ffff::16', ready: ['fd00::5', 'fd00::6', 'fd00::7'], notReady: 'fd00::8', other: 'fd00::50', internet: '2001:db8:4::9' },
} as const;

export const FAMILIES: readonly IPFamily[] = ['IPv4', 'IPv6'];

/** `web`: tcp/80 → 8080 and udp/53 → 5353, three ready endpoints and one starting up, per family. */
export function webService(overrides: Partial<ServiceProgram> = {}): ServiceProgram {
  return {
    uid: '6f1c2a9e-4b7d-4c1e-9a3f-2d5e8b7c6a10',
    namespace: 'shop',
    name: 'web',
    lbEnabled: true,
    snatEnabled: true,
    lbAddresses: FAMILIES.map((family) => ({ family, address: NET[family].lb })),
    snatAddresses: FAMILIES.map((family) => ({ family, address: NET[family].snat })),
    ports: [
      { protocol: 'tcp', port: 80, targetPort: 8080, name: 'http' },
      { protocol: 'udp', port: 53, targetPort: 5353, name: 'dns' },
    ],
    endpoints: FAMILIES.flatMap((family) => [
      ...NET[family].ready.map((address) => ({ family, address, ready: true })),
      { family, address: NET[family].notReady, ready: false },
    ]),
    ...overrides,
  };
}

/** Ready endpoints of `web` limited to these addresses (per family, by position in NET.ready). */
export function endpointsAt(positions: readonly number[]): ServiceProgram['endpoints'] {
  return FAMILIES.flatMap((family) => positions.map((at) => ({ family, address: NET[family].ready[at] ?? '', ready: true })));
}

export const ALL_MENUS = FAMILIES.flatMap(menusFor);

/** Everything `program` would want on the router for these Services (globals included). */
export function desiredFor(services: readonly ServiceProgram[]): DesiredMenus {
  return mergeDesired(...FAMILIES.map(globalEntries), ...services.map(serviceDesired));
}

/** One Service's entries plus the advertisements of its LB addresses. */
export function serviceDesired(svc: ServiceProgram): DesiredMenus {
  const ads = svc.lbAddresses.map(({ family, address }) => advertisementEntry({ serviceUid: svc.uid, family, address, interfaceName: 'ether1' }));
  return mergeDesired(serviceEntries(svc), ...ads.map(({ menu, entry }) => ({ [menu]: [entry] })));
}

export function converge(state: RouterState, desired: DesiredMenus, scope: Scope): { ops: Op[]; state: RouterState } {
  const ops = planState(state, desired, scope, ALL_MENUS);
  return { ops, state: applyPlanToState(state, ops) };
}

export function opCounts(ops: readonly Op[]): Record<Op['op'], number> {
  const counts = { add: 0, set: 0, remove: 0, move: 0 };
  for (const op of ops) counts[op.op] += 1;
  return counts;
}

/** A client on the internet opening `count` connections to an LB port. */
export function clients(family: IPFamily, protocol: 'tcp' | 'udp', dstPort: number, count: number, seed: number): Connection[] {
  const random = seededRandom(seed);
  const byte = (): number => 1 + Math.floor(random() * 254);
  return Array.from({ length: count }, () => ({
    srcAddress: family === 'IPv4' ? `198.51.${byte()}.${byte()}` : `2001:db8:${byte().toString(16)}::${byte().toString(16)}`,
    srcPort: 1024 + Math.floor(random() * 64000),
    dstAddress: NET[family].lb,
    dstPort,
    protocol,
    inInterface: 'ether1',
  }));
}

/** Where connections ended up, as `address:port` counts (or the tracer's complaint). */
export function spread(tracer: Tracer, connections: readonly Connection[]): Record<string, number> {
  return tally(connections.map((connection) => {
    const result = tracer.trace(connection);
    if (!result.ok) return result.message;
    return result.verdict === 'accept' ? `${result.dstAddress}:${result.dstPort ?? ''}` : result.verdict;
  }));
}

/** Backends that received 3,000 connections each to tcp/80 and udp/53 of `family`'s LB address. */
export function backendSpread(state: RouterState, family: IPFamily): Record<string, Record<string, number>> {
  const tracer = createTracer(state);
  return {
    'tcp/80': spread(tracer, clients(family, 'tcp', 80, 3000, 7)),
    'udp/53': spread(tracer, clients(family, 'udp', 53, 3000, 11)),
  };
}
