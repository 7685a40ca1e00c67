import { formatAddress, formatPrefix, networkOf, parseAddress, parsePrefix, prefixContains, type Family } from './ip.js';
import type { FieldSpec, MenuSpec, PrintedItem, Props, RouterReader, StoredEntry } from './menu-types.js';
import { formatId, ownValue, versionAtLeast } from './menu-types.js';
import { traps } from './traps.js';
import * as v from './validate.js';

/** Addresses, routes and interfaces, and the menus the router computes (/system, /routing/route). */
const readOnly = (shown?: string): FieldSpec => (shown === undefined ? {} : { shown });
const prefixOf = (family: Family): string => (family === 'ip4' ? '/ip' : '/ipv6');

function addressMenu(family: Family): MenuSpec {
  const ipv6Fields: Record<string, FieldSpec> = {
    advertise: {
      check: v.bool,
      // A router advertises /64 prefixes by default (SLAAC), others not.
      shown: (props: Props) => (props.get('address')?.endsWith('/64') === true ? 'true' : 'false'),
    },
    'eui-64': { check: v.bool, shown: 'false' },
    'no-dad': { check: v.bool, shown: 'false' },
    // Printed on every entry: from-pool, empty unless the address comes from a pool;
    // auto-link-local since 7.18 (terraform-provider-routeros#672); from-pool-policy since 7.23
    // (community.routeros#469, default `recommended`).
    'auto-link-local': { check: v.bool, shown: 'true', since: [7, 18] },
    'from-pool': { check: v.text, shown: '' },
    'from-pool-policy': { check: v.text, shown: 'recommended', since: [7, 23] },
  };
  return {
    path: `${prefixOf(family)}/address`,
    verbs: ['print', 'get', 'add', 'set', 'remove', 'unset', 'enable', 'disable'],
    fields: {
      address: { check: v.interfaceAddress(family), required: true },
      ...(family === 'ip4' ? { network: readOnly() } : {}),
      interface: { check: v.interfaceName, required: true },
      'actual-interface': readOnly(),
      ...(family === 'ip6' ? ipv6Fields : {}),
      comment: { check: v.text },
      disabled: { check: v.bool, shown: 'false' },
      invalid: readOnly('false'),
      dynamic: readOnly('false'),
      vrf: readOnly(),
    },
    derive: (props, router) => {
      const derived: Record<string, string> = {};
      const iface = props.get('interface') ?? '';
      derived['actual-interface'] = iface;
      // The interface's VRF, printed (read-only: a write is `unknown parameter vrf`) since 7.21
      // for IPv4 and 7.22 for IPv6 (terraform-provider-routeros#984, #999, #962).
      if (versionAtLeast(router.version, 7, family === 'ip4' ? 21 : 22)) derived.vrf = 'main';
      if (!router.interfaceExists(iface)) derived.invalid = 'true';
      const prefix = parsePrefix(props.get('address') ?? '', family);
      if (family === 'ip4' && prefix !== null) derived.network = formatAddress(networkOf(prefix));
      return derived;
    },
    clash: (candidate, existing) =>
      hostOf(candidate.get('address'), family) === hostOf(existing.get('address'), family) &&
      candidate.get('interface') === existing.get('interface')
        ? traps.alreadyHaveAddress
        : null,
    clashKey: (props) => `${hostOf(props.get('address'), family)} ${props.get('interface')}`,
  };
}

function hostOf(address: string | undefined, family: Family): string | undefined {
  if (address === undefined) return undefined;
  const key = `${family} ${address}`;
  if (HOSTS.has(key)) return HOSTS.get(key);
  const prefix = parsePrefix(address, family);
  const host = prefix === null ? address : formatAddress(prefix.address);
  if (HOSTS.size >= HOSTS_KEPT) HOSTS.clear();
  HOSTS.set(key, host);
  return host;
}

/** hostOf is pure and every address added or changed needs its clash key: kept once parsed. */
const HOSTS = new Map<string, string>();
const HOSTS_KEPT = 65_536;

/** The interface a gateway is reached through, as a router shows it in `immediate-gw`. */
function immediateGateway(gateway: string, family: Family, router: RouterReader): string | null {
  const [host, via] = gateway.split('%');
  if (host === undefined) return null;
  if (via !== undefined) return router.interfaceExists(via) ? gateway : null;
  const address = parseAddress(host, family);
  if (address === null) return router.interfaceExists(host) ? host : null;
  for (const entry of router.entries(`${prefixOf(family)}/address`)) {
    if (entry.props.get('disabled') === 'true') continue;
    const prefix = parsePrefix(entry.props.get('address') ?? '', family);
    const iface = entry.props.get('interface') ?? '';
    if (prefix !== null && router.interfaceExists(iface) && prefixContains(prefix, address)) return `${host}%${iface}`;
  }
  return null;
}

function routeMenu(family: Family): MenuSpec {
  return {
    path: `${prefixOf(family)}/route`,
    verbs: ['print', 'get', 'add', 'set', 'remove', 'unset', 'enable', 'disable'],
    fields: {
      'dst-address': { check: v.network(family), shown: family === 'ip4' ? '0.0.0.0/0' : '::/0' },
      gateway: { check: v.gateway(family) },
      'immediate-gw': readOnly(),
      distance: { check: v.integer(1, 255), shown: '1' },
      scope: { check: v.integer(0, 255), shown: '30' },
      'target-scope': { check: v.integer(0, 255), shown: '10' },
      'routing-table': { check: v.text, shown: 'main' },
      'pref-src': { check: v.address(family) },
      'check-gateway': { check: v.oneOf(['arp', 'bfd', 'bfd-multihop', 'ping', 'none']) },
      blackhole: { check: v.bool },
      comment: { check: v.text },
      disabled: { check: v.bool, shown: 'false' },
      active: readOnly(),
      dynamic: readOnly('false'),
      connect: readOnly(),
    },
    dynamic: (router) => connectedRoutes(router, family),
    derive: (props, router) => {
      const blackhole = props.get('blackhole') === 'true';
      const via = blackhole ? null : immediateGateway(props.get('gateway') ?? '', family, router);
      const derived: Record<string, string> = { active: String((blackhole || via !== null) && props.get('disabled') !== 'true') };
      if (via !== null) derived['immediate-gw'] = via;
      return derived;
    },
  };
}

/** Ids of connected routes: above any stored id, one per address entry. */
const CONNECTED_ID_BASE = 0x80000000;

/**
 * The dynamic connected route RouterOS derives from each enabled `/ip/address` (`/ipv6/address`):
 * `dst-address=<network>/<len> gateway=<interface> distance=0 dynamic=true connect=true`.
 */
function connectedRoutes(router: RouterReader, family: Family): StoredEntry[] {
  return router.entries(`${prefixOf(family)}/address`).flatMap((entry) => {
    const prefix = parsePrefix(entry.props.get('address') ?? '', family);
    const iface = entry.props.get('interface') ?? '';
    if (prefix === null || entry.props.get('disabled') === 'true' || !router.interfaceExists(iface)) return [];
    const props = new Map([
      ['dst-address', formatPrefix({ ...prefix, address: networkOf(prefix) })], ['gateway', iface], ['distance', '0'], ['dynamic', 'true'], ['connect', 'true'],
    ]);
    return [{ id: CONNECTED_ID_BASE + entry.id, props }];
  });
}

/** v7's merged routing table: the static routes of both families, read-only. */
function routingRoutes(router: RouterReader, specs: ReadonlyMap<string, MenuSpec>): PrintedItem[] {
  const items: PrintedItem[] = [];
  for (const family of ['ip4', 'ip6'] satisfies Family[]) {
    const spec = specs.get(`${prefixOf(family)}/route`);
    if (spec === undefined) continue;
    for (const entry of [...router.entries(spec.path), ...(spec.dynamic?.(router) ?? [])]) {
      const item: PrintedItem = new Map([['.id', formatId(entry.id)]]);
      const derived = spec.derive?.(entry.props, router) ?? {};
      for (const key of ['dst-address', 'gateway', 'immediate-gw', 'distance', 'routing-table', 'comment']) {
        const value = derived[key] ?? ownValue(spec, entry.props, key);
        if (value !== undefined) item.set(key, value);
      }
      item.set('afi', family);
      item.set('active', derived.active ?? 'false');
      item.set('dynamic', entry.props.get('dynamic') ?? 'false');
      item.set('disabled', entry.props.get('disabled') ?? 'false');
      items.push(item);
    }
  }
  return items;
}

const interfaceMenu: MenuSpec = {
  path: '/interface',
  nameKey: 'name',
  verbs: ['print', 'get', 'set', 'unset', 'enable', 'disable'],
  fields: {
    name: { check: v.text, required: true },
    type: readOnly('ether'),
    mtu: { check: v.integer(64, 65535), shown: '1500' },
    'mac-address': readOnly(),
    comment: { check: v.text },
    running: readOnly(),
    disabled: { check: v.bool, shown: 'false' },
    dynamic: readOnly('false'),
  },
  derive: (props) => ({ running: props.get('disabled') === 'true' ? 'false' : props.get('running') ?? 'true' }),
};

function formatUptime(ms: number): string {
  let seconds = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['w', 604800], ['d', 86400], ['h', 3600], ['m', 60]] satisfies [string, number][]) {
    if (seconds >= size) parts.push(`${Math.floor(seconds / size)}${unit}`);
    seconds %= size;
  }
  parts.push(`${seconds}s`);
  return parts.join('');
}

const systemResource: MenuSpec = {
  path: '/system/resource',
  verbs: ['print', 'get'],
  fields: {},
  computed: (router) => [
    new Map([
      ['uptime', formatUptime(router.now() - router.startedAt)],
      ['version', `${router.version} (stable)`],
      ['build-time', '2025-06-04 10:00:00'],
      ['factory-software', '7.1'],
      ['free-memory', '900000000'],
      ['total-memory', '1073741824'],
      ['cpu', 'QEMU'],
      ['cpu-count', '2'],
      ['cpu-frequency', '2400'],
      ['cpu-load', '1'],
      ['free-hdd-space', '80000000'],
      ['total-hdd-space', '134217728'],
      ['architecture-name', 'x86_64'],
      ['board-name', 'CHR'],
      ['platform', 'MikroTik'],
    ]),
  ],
};

const systemPackage: MenuSpec = {
  path: '/system/package',
  verbs: ['print', 'get'],
  fields: {},
  computed: (router) => [
    new Map([
      ['.id', '*1'],
      ['name', 'routeros'],
      ['version', router.version],
      ['build-time', '2025-06-04 10:00:00'],
      ['scheduled', ''],
      ['disabled', 'false'],
      ['available', 'false'],
    ]),
  ],
};

export function ipMenus(): MenuSpec[] {
  const menus: MenuSpec[] = [
    addressMenu('ip4'),
    addressMenu('ip6'),
    routeMenu('ip4'),
    routeMenu('ip6'),
    interfaceMenu,
    systemResource,
    systemPackage,
  ];
  const byPath = new Map(menus.map((menu) => [menu.path, menu]));
  menus.push({ path: '/routing/route', verbs: ['print', 'get'], fields: {}, computed: (router) => routingRoutes(router, byPath) });
  return menus;
}
