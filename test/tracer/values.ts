/** Parsers for the wire-format values of firewall rule properties. */

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = <T = never>(message: string): Parsed<T> => ({ ok: false, message });

export interface PortRange {
  lo: number;
  hi: number;
}

/** Splits RouterOS' leading `!` negation off a value. */
export function splitNegation(text: string): { negated: boolean; body: string } {
  return text.startsWith('!') ? { negated: true, body: text.slice(1) } : { negated: false, body: text };
}

export function parseBoolean(text: string | undefined, fallback: boolean): Parsed<boolean> {
  if (text === undefined || text === '') return ok(fallback);
  if (text === 'true' || text === 'yes') return ok(true);
  if (text === 'false' || text === 'no') return ok(false);
  return fail(`'${text}' is not yes/no`);
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** `80`, `8000-8080`: one port or an inclusive range. */
export function parsePortRange(text: string): Parsed<PortRange> {
  const [loText = '', hiText, ...rest] = text.split('-');
  const lo = parsePort(loText);
  const hi = hiText === undefined ? lo : parsePort(hiText);
  if (rest.length > 0 || lo === undefined || hi === undefined || lo > hi) {
    return fail(`'${text}' is not a port or port range`);
  }
  return ok({ lo, hi });
}

/** `80,443,8000-8080`: a list of ports and ranges. */
export function parsePortList(text: string): Parsed<PortRange[]> {
  const ranges: PortRange[] = [];
  for (const part of text.split(',')) {
    const range = parsePortRange(part);
    if (!range.ok) return range;
    ranges.push(range.value);
  }
  return ok(ranges);
}

export function portInRanges(port: number, ranges: readonly PortRange[]): boolean {
  return ranges.some((range) => range.lo <= port && port <= range.hi);
}

const PROTOCOLS: Record<string, number> = {
  icmp: 1,
  igmp: 2,
  ipencap: 4,
  tcp: 6,
  egp: 8,
  udp: 17,
  ipv6: 41,
  'ipv6-route': 43,
  'ipv6-frag': 44,
  rsvp: 46,
  gre: 47,
  'ipsec-esp': 50,
  'ipsec-ah': 51,
  icmpv6: 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  ospf: 89,
  ipip: 94,
  etherip: 97,
  pim: 103,
  vrrp: 112,
  l2tp: 115,
  sctp: 132,
  'udp-lite': 136,
};

const PORT_PROTOCOLS = new Set([6, 17, 33, 132, 136]);

/** A protocol name as RouterOS prints it, or its number. */
export function parseProtocol(text: string): Parsed<number> {
  const known = PROTOCOLS[text];
  if (known !== undefined) return ok(known);
  if (/^\d{1,3}$/.test(text) && Number(text) <= 255) return ok(Number(text));
  return fail(`'${text}' is not a protocol name or number`);
}

export function protocolName(protocol: number): string {
  return Object.entries(PROTOCOLS).find(([, number]) => number === protocol)?.[0] ?? String(protocol);
}

export function protocolHasPorts(protocol: number): boolean {
  return PORT_PROTOCOLS.has(protocol);
}

export interface Nth {
  every: number;
  packet: number;
}

/** `nth=every,packet`, 1 <= packet <= every. */
export function parseNth(text: string): Parsed<Nth> {
  const match = /^(\d+),(\d+)$/.exec(text);
  const every = Number(match?.[1]);
  const packet = Number(match?.[2]);
  if (!match || every < 1 || packet < 1 || packet > every) {
    return fail(`'${text}' is not every,packet with 1 <= packet <= every`);
  }
  return ok({ every, packet });
}

export const CLASSIFIER_FIELDS = [
  'src-address',
  'dst-address',
  'src-port',
  'dst-port',
  'both-addresses',
  'both-ports',
  'both-addresses-and-ports',
  'src-address-and-port',
  'dst-address-and-port',
] as const;
export type ClassifierFields = (typeof CLASSIFIER_FIELDS)[number];

export interface Classifier {
  fields: ClassifierFields;
  denominator: number;
  remainder: number;
}

function isClassifierFields(text: string): text is ClassifierFields {
  return CLASSIFIER_FIELDS.some((fields) => fields === text);
}

/** `per-connection-classifier=src-address-and-port:3/1`. */
export function parseClassifier(text: string): Parsed<Classifier> {
  const match = /^([a-z-]+):(\d+)\/(\d+)$/.exec(text);
  const fields = match?.[1] ?? '';
  const denominator = Number(match?.[2]);
  const remainder = Number(match?.[3]);
  if (!match || !isClassifierFields(fields) || denominator < 1 || remainder >= denominator) {
    return fail(`'${text}' is not fields:denominator/remainder with fields one of ${CLASSIFIER_FIELDS.join(', ')}`);
  }
  return ok({ fields, denominator, remainder });
}
