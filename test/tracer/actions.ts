import { parseSpan, type AddressSpan, type Family } from './addresses.js';
import type { Table } from './flow.js';
import type { RouterEntry } from '../../lib/router/state.js';
import { fail, ok, parseBoolean, parsePortRange, type Parsed, type PortRange } from './values.js';

export type MarkTarget = 'connectionMark' | 'packetMark' | 'routingMark';

/** A rule's action, compiled from its `action` property and that action's parameters. */
export type Action =
  | { kind: 'accept'; name: string }
  | { kind: 'drop' }
  | { kind: 'reject'; rejectWith: string }
  | { kind: 'jump'; target: string }
  | { kind: 'return' }
  | { kind: 'passthrough'; name: string }
  | { kind: 'mark'; name: string; target: MarkTarget; mark: string | undefined; passthrough: boolean }
  | { kind: 'nat'; side: 'src' | 'dst'; to: AddressSpan | undefined; ports: PortRange | undefined }
  | { kind: 'masquerade'; ports: PortRange | undefined }
  | { kind: 'redirect'; ports: PortRange | undefined }
  | { kind: 'add-to-list'; side: 'src' | 'dst'; list: string };

const COMMON = ['accept', 'jump', 'return', 'passthrough', 'log', 'add-src-to-address-list', 'add-dst-to-address-list'];

/** Which actions RouterOS offers in each table (of those the tracer models). */
const TABLE_ACTIONS: Record<Table, readonly string[]> = {
  raw: [...COMMON, 'drop'],
  mangle: [...COMMON, 'mark-connection', 'mark-packet', 'mark-routing'],
  nat: [...COMMON, 'dst-nat', 'src-nat', 'masquerade', 'redirect'],
  filter: [...COMMON, 'drop', 'reject', 'fasttrack-connection'],
};

/** Parameters of actions: not matchers, so the rule compiler must not reject them as unknown. */
export function actionParameters(family: Family): readonly string[] {
  return [
    'jump-target',
    'reject-with',
    'new-connection-mark',
    'new-packet-mark',
    'new-routing-mark',
    'passthrough',
    'address-list',
    'address-list-timeout',
    'hw-offload',
    'to-ports',
    natAddressProperty(family),
  ];
}

/** IPv4 NAT rules take `to-addresses`, IPv6 NAT rules `to-address`. */
export function natAddressProperty(family: Family): string {
  return family === 'IPv4' ? 'to-addresses' : 'to-address';
}

/** A compiled action, or the field that could not be understood and why. */
export type CompiledAction = { ok: true; value: Action } | { ok: false; field: string; message: string };

const done = (value: Action): CompiledAction => ({ ok: true, value });
const problem = (field: string, message: string): CompiledAction => ({ ok: false, field, message });

function withField(field: string, parsed: { ok: false; message: string }): CompiledAction {
  return problem(field, parsed.message);
}

function required(entry: RouterEntry, field: string): Parsed<string> {
  const value = entry[field];
  return value ? ok(value) : fail(`'${entry.action}' needs '${field}'`);
}

function compileMark(entry: RouterEntry, name: string, field: string, target: MarkTarget): CompiledAction {
  const mark = required(entry, field);
  if (!mark.ok) return withField(field, mark);
  const passthrough = parseBoolean(entry.passthrough, true);
  if (!passthrough.ok) return withField('passthrough', passthrough);
  const value = mark.value === 'no-mark' ? undefined : mark.value;
  return done({ kind: 'mark', name, target, mark: value, passthrough: passthrough.value });
}

function compilePorts(entry: RouterEntry): Parsed<PortRange | undefined> {
  const text = entry['to-ports'];
  return text ? parsePortRange(text) : ok(undefined);
}

function compileNat(entry: RouterEntry, family: Family, side: 'src' | 'dst'): CompiledAction {
  const field = natAddressProperty(family);
  const text = entry[field];
  const to = text ? parseSpan(text) : undefined;
  if (text && to?.family !== family) return problem(field, `'${text}' is not an ${family} address or range`);
  const ports = compilePorts(entry);
  if (!ports.ok) return withField('to-ports', ports);
  return done({ kind: 'nat', side, to, ports: ports.value });
}

function compileAllowed(name: string, entry: RouterEntry, family: Family): CompiledAction {
  const ports = compilePorts(entry);
  switch (name) {
    case 'accept':
    case 'fasttrack-connection':
      return done({ kind: 'accept', name });
    case 'drop':
      return done({ kind: 'drop' });
    case 'reject':
      return done({ kind: 'reject', rejectWith: entry['reject-with'] || defaultRejectWith(family) });
    case 'jump': {
      const target = required(entry, 'jump-target');
      return target.ok ? done({ kind: 'jump', target: target.value }) : withField('jump-target', target);
    }
    case 'return':
      return done({ kind: 'return' });
    case 'passthrough':
    case 'log':
      return done({ kind: 'passthrough', name });
    case 'mark-connection':
      return compileMark(entry, name, 'new-connection-mark', 'connectionMark');
    case 'mark-packet':
      return compileMark(entry, name, 'new-packet-mark', 'packetMark');
    case 'mark-routing':
      return compileMark(entry, name, 'new-routing-mark', 'routingMark');
    case 'dst-nat':
      return compileNat(entry, family, 'dst');
    case 'src-nat':
      return compileNat(entry, family, 'src');
    case 'masquerade':
    case 'redirect':
      return ports.ok ? done({ kind: name, ports: ports.value }) : withField('to-ports', ports);
    case 'add-src-to-address-list':
    case 'add-dst-to-address-list': {
      const list = required(entry, 'address-list');
      const side = name === 'add-src-to-address-list' ? 'src' : 'dst';
      return list.ok ? done({ kind: 'add-to-list', side, list: list.value }) : withField('address-list', list);
    }
    default:
      return problem('action', `'${name}' is not an action the tracer can evaluate`);
  }
}

function defaultRejectWith(family: Family): string {
  return family === 'IPv4' ? 'icmp-network-unreachable' : 'icmp-no-route';
}

/** Compiles a rule's action; a problem names the field that could not be understood. */
export function compileAction(table: Table, entry: RouterEntry, family: Family): CompiledAction {
  const name = entry.action;
  if (!name) return problem('action', 'the rule has no action');
  if (!TABLE_ACTIONS[table].includes(name)) {
    return problem('action', `'${name}' is not an action the tracer can evaluate in ${table}`);
  }
  return compileAllowed(name, entry, family);
}
