import type { Family } from './ip.js';
import type { FieldSpec, MenuSpec, Props, RouterReader } from './menu-types.js';
import { traps } from './traps.js';
import * as v from './validate.js';

/** /ip/firewall/{filter,nat,mangle,address-list} and their /ipv6 twins. */
type Table = 'filter' | 'nat' | 'mangle';

const COMMON_ACTIONS = ['accept', 'jump', 'return', 'passthrough', 'log', 'add-src-to-address-list', 'add-dst-to-address-list'];
const ACTIONS: Record<Table, Record<Family, readonly string[]>> = {
  filter: {
    ip4: [...COMMON_ACTIONS, 'drop', 'reject', 'fasttrack-connection', 'tarpit'],
    ip6: [...COMMON_ACTIONS, 'drop', 'reject', 'fasttrack-connection'],
  },
  nat: {
    ip4: [...COMMON_ACTIONS, 'dst-nat', 'src-nat', 'masquerade', 'redirect', 'netmap', 'same', 'endpoint-independent-nat'],
    ip6: [...COMMON_ACTIONS, 'dst-nat', 'src-nat', 'masquerade', 'redirect', 'netmap'],
  },
  mangle: {
    ip4: [
      ...COMMON_ACTIONS, 'mark-connection', 'mark-packet', 'mark-routing', 'change-dscp', 'change-mss', 'change-ttl',
      'clear-df', 'route', 'set-priority', 'sniff-tzsp', 'strip-ipv4-options', 'drop',
    ],
    ip6: [
      ...COMMON_ACTIONS, 'mark-connection', 'mark-packet', 'mark-routing', 'change-dscp', 'change-mss',
      'change-hop-limit', 'set-priority', 'sniff-tzsp', 'drop',
    ],
  },
};

const REJECT_WITH: Record<Family, readonly string[]> = {
  ip4: [
    'icmp-network-unreachable', 'icmp-host-unreachable', 'icmp-port-unreachable', 'icmp-protocol-unreachable',
    'icmp-network-prohibited', 'icmp-host-prohibited', 'icmp-admin-prohibited', 'tcp-reset',
  ],
  ip6: [
    'icmp-no-route', 'icmp-admin-prohibited', 'icmp-not-neighbour', 'icmp-address-unreachable',
    'icmp-port-unreachable', 'icmp-err-src-routing-header', 'icmp-headers-too-long', 'tcp-reset',
  ],
};

const CONNECTION_STATES = ['established', 'related', 'new', 'invalid', 'untracked'];
/** Mangle actions after which a router shows `passthrough=true` by default. */
const PASSTHROUGH_ACTIONS = ['mark-connection', 'mark-packet', 'mark-routing', 'change-dscp', 'change-mss', 'change-ttl'];

const readOnly = (shown: string): FieldSpec => ({ shown });

function matcherFields(family: Family): Record<string, FieldSpec> {
  const addressMatcher = v.negatable(v.addressMatcher(family));
  return {
    protocol: { check: v.negatable(v.protocol) },
    'src-address': { check: addressMatcher },
    'dst-address': { check: addressMatcher },
    'src-port': { check: v.negatable(v.portList) },
    'dst-port': { check: v.negatable(v.portList) },
    'in-interface': { check: v.negatable(v.interfaceName) },
    'out-interface': { check: v.negatable(v.interfaceName) },
    'src-address-list': { check: v.negatable(v.text) },
    'dst-address-list': { check: v.negatable(v.text) },
    'connection-mark': { check: v.negatable(v.text) },
    'connection-state': { check: v.negatable(v.setOf(CONNECTION_STATES)) },
    'connection-nat-state': { check: v.negatable(v.setOf(['srcnat', 'dstnat'])) },
    nth: { check: v.nth },
    'per-connection-classifier': { check: v.negatable(v.perConnectionClassifier) },
  };
}

function tableFields(table: Table, family: Family): Record<string, FieldSpec> {
  if (table === 'nat') {
    return family === 'ip4'
      ? { 'to-addresses': { check: v.natTarget(family) }, 'to-ports': { check: v.portRange } }
      : { 'to-address': { check: v.natTarget(family) }, 'to-ports': { check: v.portRange } };
  }
  if (table === 'filter') return { 'reject-with': { check: v.oneOf(REJECT_WITH[family]) } };
  return {
    'new-connection-mark': { check: v.text },
    'new-packet-mark': { check: v.text },
    'new-routing-mark': { check: v.text },
    passthrough: {
      check: v.bool,
      shown: (props: Props) => (PASSTHROUGH_ACTIONS.includes(props.get('action') ?? '') ? 'true' : undefined),
    },
  };
}

function ruleMenu(prefix: string, table: Table, family: Family): MenuSpec {
  return {
    path: `${prefix}/firewall/${table}`,
    ordered: true,
    verbs: ['print', 'get', 'add', 'set', 'remove', 'move', 'unset', 'enable', 'disable'],
    fields: {
      chain: { check: v.text, required: true },
      action: { check: v.oneOf(ACTIONS[table][family]), shown: 'accept' },
      ...matcherFields(family),
      ...tableFields(table, family),
      'jump-target': { check: v.text },
      'address-list': { check: v.text },
      'address-list-timeout': { check: v.duration },
      log: { check: v.bool, shown: 'false' },
      'log-prefix': { check: v.text, shown: '' },
      comment: { check: v.text },
      disabled: { check: v.bool, shown: 'false' },
      bytes: readOnly('0'),
      packets: readOnly('0'),
      invalid: readOnly('false'),
      dynamic: readOnly('false'),
    },
  };
}

const HOST_NAME = /^(?=.*[a-z])[a-z0-9-]+(\.[a-z0-9-]+)*$/i;

/**
 * A list entry's `creation-time`, as v7 prints it since 7.10 (`2025-06-04 10:00:00`). The
 * simulator keeps no time per entry: every entry shows when the router started.
 */
function creationTime(router: RouterReader): string {
  return new Date(router.startedAt).toISOString().slice(0, 19).replace('T', ' ');
}

/** Address lists also take DNS names in IPv4 (the router resolves them into dynamic entries). */
function listAddress(family: Family): v.Validator {
  const matcher = v.addressMatcher(family);
  return (raw, ctx) => (family === 'ip4' && HOST_NAME.test(raw) ? { ok: true, value: raw } : matcher(raw, ctx));
}

function addressListMenu(prefix: string, family: Family): MenuSpec {
  return {
    path: `${prefix}/firewall/address-list`,
    verbs: ['print', 'get', 'add', 'set', 'remove', 'unset', 'enable', 'disable'],
    fields: {
      list: { check: v.text, required: true },
      address: { check: listAddress(family), required: true },
      timeout: { check: v.duration },
      // read-only, printed on every entry
      'creation-time': {},
      comment: { check: v.text },
      disabled: { check: v.bool, shown: 'false' },
      dynamic: readOnly('false'),
    },
    derive: (_props, router) => ({ 'creation-time': creationTime(router) }),
    clash: (candidate, existing) =>
      candidate.get('list') === existing.get('list') && candidate.get('address') === existing.get('address')
        ? traps.alreadyHaveEntry
        : null,
    clashKey: (props) => `${props.get('list')} ${props.get('address')}`,
  };
}

const FAMILIES: readonly Family[] = ['ip4', 'ip6'];

export const firewallMenus: readonly MenuSpec[] = FAMILIES.flatMap((family) => {
  const prefix = family === 'ip4' ? '/ip' : '/ipv6';
  return [
    ruleMenu(prefix, 'filter', family),
    ruleMenu(prefix, 'nat', family),
    ruleMenu(prefix, 'mangle', family),
    addressListMenu(prefix, family),
  ];
});
