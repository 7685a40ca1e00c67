import { formatAddress, formatPrefix, parseAddress, parsePrefix, type Family } from './ip.js';
import { traps, type Trap } from './traps.js';

/**
 * Value checks for menu fields. A check returns the value as the router would store and print it
 * (booleans as true/false, addresses in canonical form), or the trap a router answers with.
 */
export type Checked = { ok: true; value: string } | { ok: false; trap: Trap };
export interface ValidateContext {
  field: string;
  interfaceExists(name: string): boolean;
}
export type Validator = (raw: string, ctx: ValidateContext) => Checked;

const ok = (value: string): Checked => ({ ok: true, value });
const invalid = (ctx: ValidateContext): Checked => ({ ok: false, trap: traps.invalidValue(ctx.field) });
const noMatch = (ctx: ValidateContext): Checked => ({ ok: false, trap: traps.noMatchingValue(ctx.field) });

export const text: Validator = (raw) => ok(raw);

export const bool: Validator = (raw, ctx) => {
  if (raw === 'yes' || raw === 'true') return ok('true');
  if (raw === 'no' || raw === 'false') return ok('false');
  return invalid(ctx);
};

export const integer =
  (min: number, max: number): Validator =>
  (raw, ctx) => {
    if (!/^\d+$/.test(raw)) return invalid(ctx);
    const value = Number(raw);
    return value >= min && value <= max ? ok(String(value)) : invalid(ctx);
  };

export const oneOf =
  (values: readonly string[]): Validator =>
  (raw, ctx) =>
    values.includes(raw) ? ok(raw) : noMatch(ctx);

/** Firewall matchers take a leading `!` to invert the match. */
export const negatable =
  (inner: Validator): Validator =>
  (raw, ctx) => {
    if (!raw.startsWith('!')) return inner(raw, ctx);
    const checked = inner(raw.slice(1), ctx);
    return checked.ok ? ok(`!${checked.value}`) : checked;
  };

export const interfaceName: Validator = (raw, ctx) => (ctx.interfaceExists(raw) ? ok(raw) : noMatch(ctx));

/** An interface address: host address with a prefix length (missing → /32, or /64 for IPv6). */
export const interfaceAddress =
  (family: Family): Validator =>
  (raw, ctx) => {
    const prefix = parsePrefix(raw, family, family === 'ip4' ? 32 : 64);
    return prefix === null ? invalid(ctx) : ok(formatPrefix(prefix));
  };

export const address =
  (family: Family): Validator =>
  (raw, ctx) => {
    const parsed = parseAddress(raw, family);
    return parsed === null ? invalid(ctx) : ok(formatAddress(parsed));
  };

function checkRange(raw: string, family: Family): string | null {
  const [from, to, extra] = raw.split('-');
  if (from === undefined || to === undefined || extra !== undefined) return null;
  const start = parseAddress(from, family);
  const end = parseAddress(to, family);
  if (start === null || end === null || start.value > end.value) return null;
  return `${formatAddress(start)}-${formatAddress(end)}`;
}

/** A firewall address matcher: address, prefix or `a-b` range. */
export const addressMatcher =
  (family: Family): Validator =>
  (raw, ctx) => {
    if (raw.includes('-')) {
      const range = checkRange(raw, family);
      return range === null ? invalid(ctx) : ok(range);
    }
    const prefix = parsePrefix(raw, family);
    if (prefix === null) return invalid(ctx);
    return ok(raw.includes('/') ? formatPrefix(prefix) : formatAddress(prefix.address));
  };

/** A network prefix; host bits are cleared as a router does for route destinations. */
export const network =
  (family: Family): Validator =>
  (raw, ctx) => {
    const prefix = parsePrefix(raw, family);
    if (prefix === null) return invalid(ctx);
    const hostBits = BigInt((family === 'ip4' ? 32 : 128) - prefix.length);
    const value = (prefix.address.value >> hostBits) << hostBits;
    return ok(formatPrefix({ address: { family, value }, length: prefix.length }));
  };

/** NAT targets: IPv4 `to-addresses` takes an address or range; IPv6 `to-address` an address or prefix. */
export const natTarget =
  (family: Family): Validator =>
  (raw, ctx) => {
    if (family === 'ip4' && raw.includes('-')) {
      const range = checkRange(raw, family);
      return range === null ? invalid(ctx) : ok(range);
    }
    return addressMatcher(family)(raw, ctx);
  };

function isPort(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) <= 65535;
}

function portRangeText(text: string): string | null {
  const [from, to, extra] = text.split('-');
  if (from === undefined || extra !== undefined || !isPort(from)) return null;
  if (to === undefined) return String(Number(from));
  if (!isPort(to) || Number(to) < Number(from)) return null;
  return `${Number(from)}-${Number(to)}`;
}

/** `80`, `80,443`, `8000-8080,9000`. */
export const portList: Validator = (raw, ctx) => {
  const parts = raw.split(',').map(portRangeText);
  if (parts.length > 15 || parts.some((part) => part === null)) return invalid(ctx);
  return ok(parts.join(','));
};

/** `to-ports`: one port or one range. */
export const portRange: Validator = (raw, ctx) => {
  const range = portRangeText(raw);
  return range === null ? invalid(ctx) : ok(range);
};

/** `nth=every,packet`: the rule matches the packet-th of every `every` packets that reach it. */
export const nth: Validator = (raw, ctx) => {
  const match = /^(\d+),(\d+)$/.exec(raw);
  if (match === null) return invalid(ctx);
  const every = Number(match[1]);
  const packet = Number(match[2]);
  if (every < 1 || every > 0xffffffff || packet < 1 || packet > every) return invalid(ctx);
  return ok(`${every},${packet}`);
};

const PCC_KINDS = [
  'src-address',
  'dst-address',
  'src-port',
  'dst-port',
  'both-addresses',
  'both-ports',
  'src-address-and-port',
  'both-addresses-and-ports',
];

/** `per-connection-classifier=both-addresses:3/0` (kind:every/remainder). */
export const perConnectionClassifier: Validator = (raw, ctx) => {
  const match = /^([a-z-]+):(\d+)\/(\d+)$/.exec(raw);
  if (match === null || !PCC_KINDS.includes(match[1] ?? '')) return invalid(ctx);
  const every = Number(match[2]);
  const remainder = Number(match[3]);
  if (every < 1 || remainder >= every) return invalid(ctx);
  return ok(`${match[1]}:${every}/${remainder}`);
};

const PROTOCOLS = [
  'tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'gre', 'ipsec-esp', 'ipsec-ah', 'ospf', 'igmp', 'pim',
  'vrrp', 'l2tp', 'ipv6-encap', 'ipencap', 'dccp', 'udp-lite', 'rsvp', 'ggp', 'egp', 'pup',
];

export const protocol: Validator = (raw, ctx) => {
  if (PROTOCOLS.includes(raw)) return ok(raw);
  return /^\d{1,3}$/.test(raw) && Number(raw) <= 255 ? ok(String(Number(raw))) : noMatch(ctx);
};

/** A comma-separated set drawn from `values` (e.g. connection-state=established,related). */
export const setOf =
  (values: readonly string[]): Validator =>
  (raw, ctx) => {
    const parts = raw.split(',');
    return parts.every((part) => values.includes(part)) ? ok(parts.join(',')) : noMatch(ctx);
  };

/** RouterOS durations: `30s`, `1d2h`, `1w`, `00:05:00`, `1d 00:05:00`. */
export const duration: Validator = (raw, ctx) => {
  const units = /^(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/;
  const clock = /^(\d+d ?)?\d{1,2}:\d{2}:\d{2}$/;
  if (raw !== '' && (units.test(raw) || clock.test(raw))) return ok(raw);
  return invalid(ctx);
};

/** A gateway: an address, `address%interface`, or an existing interface name. */
export const gateway =
  (family: Family): Validator =>
  (raw, ctx) => {
    const [host, via, extra] = raw.split('%');
    if (host === undefined || extra !== undefined) return invalid(ctx);
    const parsed = parseAddress(host, family);
    if (parsed !== null) {
      if (via !== undefined && !ctx.interfaceExists(via)) return invalid(ctx);
      return ok(via === undefined ? formatAddress(parsed) : `${formatAddress(parsed)}%${via}`);
    }
    return via === undefined && ctx.interfaceExists(host) ? ok(host) : invalid(ctx);
  };
