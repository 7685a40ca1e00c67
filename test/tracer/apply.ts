import { formatAddress, spanSize, type AddressSpan, type Family } from './addresses.js';
import type { Action } from './actions.js';
import { pickIndex } from './classifier.js';
import type { Env, Flow } from './flow.js';
import type { PortRange } from './values.js';

/** What the chain walker does after a rule's action ran. */
export type Step =
  | { kind: 'next' }
  | { kind: 'stop' }
  | { kind: 'jump'; target: string }
  | { kind: 'return' }
  | { kind: 'verdict'; verdict: 'drop' | 'reject'; rejectWith: string | undefined }
  | { kind: 'error'; message: string };

export interface Applied {
  step: Step;
  /** Human-readable effect, e.g. `dst-nat to 10.0.0.5:8080`. */
  detail: string;
}

const LOOPBACK: Record<Family, bigint> = { IPv4: 0x7f000001n, IPv6: 1n };

export function formatEndpoint(family: Family, address: bigint, port: number | undefined): string {
  const text = formatAddress(family, address);
  if (port === undefined) return text;
  return family === 'IPv6' ? `[${text}]:${port}` : `${text}:${port}`;
}

/** Within a range, NAT keeps a port already inside it and otherwise takes the first. */
function natPort(port: number | undefined, range: PortRange | undefined): number | undefined {
  if (port === undefined || range === undefined) return port;
  return range.lo <= port && port <= range.hi ? port : range.lo;
}

/** Within an address range, a connection is mapped by a hash of its addresses (stable per client). */
function natAddress(flow: Flow, current: bigint, to: AddressSpan | undefined): bigint {
  if (!to) return current;
  return to.lo + pickIndex(flow, spanSize(to));
}

const error = (message: string, detail: string): Applied => ({ step: { kind: 'error', message }, detail });

function rewrite(flow: Flow, side: 'src' | 'dst', address: bigint, ports: PortRange | undefined, name: string): Applied {
  const allowed = side === 'dst' ? ['prerouting', 'output'] : ['postrouting'];
  if (!allowed.includes(flow.hook)) {
    return error(`'${name}' cannot run at ${flow.hook}: it belongs to the ${side}nat chain`, name);
  }
  if (side === 'dst') {
    flow.dst = address;
    flow.dstPort = natPort(flow.dstPort, ports);
  } else {
    flow.src = address;
    flow.srcPort = natPort(flow.srcPort, ports);
  }
  flow.natState[`${side}nat`] = true;
  const port = side === 'dst' ? flow.dstPort : flow.srcPort;
  return { step: { kind: 'stop' }, detail: `${name} to ${formatEndpoint(flow.family, address, port)}` };
}

function masquerade(flow: Flow, env: Env, ports: PortRange | undefined): Applied {
  if (flow.outInterface === undefined) {
    return error('masquerade needs the out-interface: pass outInterface or configure a route to the destination', 'masquerade');
  }
  const address = env.interfaceAddress(flow.outInterface, flow.family);
  if (address === undefined) return error(`masquerade found no ${flow.family} address on ${flow.outInterface}`, 'masquerade');
  return rewrite(flow, 'src', address, ports, 'masquerade');
}

function redirect(flow: Flow, env: Env, ports: PortRange | undefined): Applied {
  if (flow.hook === 'output') return rewrite(flow, 'dst', LOOPBACK[flow.family], ports, 'redirect');
  const address = flow.inInterface === undefined ? undefined : env.interfaceAddress(flow.inInterface, flow.family);
  if (address === undefined) return error(`redirect found no ${flow.family} address on in-interface ${flow.inInterface ?? '(none)'}`, 'redirect');
  return rewrite(flow, 'dst', address, ports, 'redirect');
}

/** Runs one matched rule's action against the connection. */
export function applyAction(action: Action, flow: Flow, env: Env): Applied {
  switch (action.kind) {
    case 'accept':
      return { step: { kind: 'stop' }, detail: action.name };
    case 'drop':
      return { step: { kind: 'verdict', verdict: 'drop', rejectWith: undefined }, detail: 'drop' };
    case 'reject':
      return { step: { kind: 'verdict', verdict: 'reject', rejectWith: action.rejectWith }, detail: `reject with ${action.rejectWith}` };
    case 'jump':
      return { step: { kind: 'jump', target: action.target }, detail: `jump to ${action.target}` };
    case 'return':
      return { step: { kind: 'return' }, detail: 'return' };
    case 'passthrough':
      return { step: { kind: 'next' }, detail: action.name };
    case 'mark':
      flow[action.target] = action.mark;
      return {
        step: { kind: action.passthrough ? 'next' : 'stop' },
        detail: `${action.name} ${action.mark ?? 'no-mark'}${action.passthrough ? '' : ' (passthrough=no)'}`,
      };
    case 'nat':
      return rewrite(flow, action.side, natAddress(flow, action.side === 'dst' ? flow.dst : flow.src, action.to), action.ports, `${action.side}-nat`);
    case 'masquerade':
      return masquerade(flow, env, action.ports);
    case 'redirect':
      return redirect(flow, env, action.ports);
    case 'add-to-list':
      env.addToAddressList(action.list, flow.family, action.side === 'src' ? flow.src : flow.dst);
      return { step: { kind: 'next' }, detail: `add-${action.side}-to-address-list ${action.list}` };
  }
}
