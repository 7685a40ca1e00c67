import { parseAddress, type IPFamily } from '../ip/index.js';
import type { RouterEntry } from '../router/state.js';

interface Candidate {
  prefix: number;
  distance: number;
  iface: string;
}

function inPrefix(family: IPFamily, network: string, address: bigint): number | undefined {
  const [base = '', len = ''] = network.split('/');
  const p = parseAddress(base);
  const bits = family === 'IPv4' ? 32 : 128;
  const prefix = len === '' ? bits : Number(len);
  if (!p.ok || p.family !== family || !Number.isInteger(prefix) || prefix < 0 || prefix > bits) return undefined;
  const shift = BigInt(bits - prefix);
  return (p.value >> shift) === (address >> shift) ? prefix : undefined;
}

/** `192.0.2.1%ether1` or `ether1` → `ether1`; a bare gateway address names no interface. */
function interfaceOfGateway(e: RouterEntry): string | undefined {
  const via = e['immediate-gw'] ?? e.gateway ?? '';
  const pct = via.indexOf('%');
  if (pct >= 0) return via.slice(pct + 1) || undefined;
  return via !== '' && !parseAddress(via).ok ? via : undefined;
}

/**
 * The interface a router would use for `address`: the most specific active route (or
 * connected network of an `/ip/address`), lower distance first on a tie; MikroLB's own
 * advertisements, and the connected routes they make, do not count. Used to advertise an
 * address when its pool names no interface.
 */
export function interfaceFor(family: IPFamily, address: string, routes: readonly RouterEntry[], addresses: readonly RouterEntry[]): string | undefined {
  const a = parseAddress(address);
  if (!a.ok || a.family !== family) return undefined;
  const candidates: Candidate[] = [];
  const host = family === 'IPv4' ? 32 : 128;
  for (const r of routes) {
    if (r.active === 'false' || r.disabled === 'true') continue;
    const prefix = inPrefix(family, r['dst-address'] ?? '', a.value);
    // the connected route to the address itself is the one its advertisement made (an address
    // the router holds otherwise is refused before this): following it, an advertisement would
    // stay on its first interface for good, whatever the routes to the address became
    if (prefix === host && r.connect === 'true') continue;
    const iface = interfaceOfGateway(r);
    if (prefix !== undefined && iface) candidates.push({ prefix, distance: Number(r.distance ?? '1'), iface });
  }
  for (const e of addresses) {
    if (e.disabled === 'true' || e.invalid === 'true' || e.comment?.startsWith('mikrolb:')) continue;
    const prefix = inPrefix(family, e.address ?? '', a.value);
    const iface = e['actual-interface'] ?? e.interface;
    if (prefix !== undefined && iface) candidates.push({ prefix, distance: 0, iface });
  }
  candidates.sort((x, y) => y.prefix - x.prefix || x.distance - y.distance);
  return candidates[0]?.iface;
}
