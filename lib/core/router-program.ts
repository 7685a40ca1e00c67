import type { AdvertisementWant } from './program-model.js';
import type { RouterOutcome } from './allocation-status.js';
import { interfaceFor } from './route-interface.js';
import { ADDRESS_MENU, holderConditions, isRefused, keyOf, listHolderConditions, refusedWants } from './router-holders.js';
import { formatAddress, parseAddress, type IPFamily } from '../ip/index.js';
import {
  DEFAULT_CLUSTER, advertisementEntry, entryOwner, forCluster, globalEntries, legacyComment, mergeDesired, menusFor, ownerOf, plannedOwner, planState, scopes, serviceEntries,
  snatList, sourceList, stagePlan, type DesiredEntry, type DesiredMenus, type FamilyAddress, type Op, type Scope, type ServiceProgram,
} from '../router/index.js';
import { connectedNetworks, hairpinEntries, hairpinNetworks } from '../router/hairpin.js';
import { firewallMenu } from '../router/menus.js';
import { INPUT_CHAIN, LB_LIST, currentComment, globalComment, inCluster, isServiceChain, serviceChain } from '../router/names.js';
import type { ReadRequest, RouterPort } from '../router/port.js';
import { isAlreadyExists, isNotFound, isPermission, isRouterError } from '../router/errors.js';
import { messageOf } from '../errors.js';
import type { RouterEntry, RouterState } from '../router/state.js';

const FAMILIES: readonly IPFamily[] = ['IPv4', 'IPv6'];
const ROUTE_MENU: Record<IPFamily, string> = { IPv4: '/ip/route', IPv6: '/ipv6/route' };

export interface OwnerProgram {
  /** Owner of the entries: the Service's uid (or an operator reservation's own uid). */
  uid: string;
  /** The installation's MIKROLB_CLUSTER_NAME: its entries are tagged with it (default: `default`). */
  cluster?: string;
  service?: ServiceProgram;
  adverts: readonly AdvertisementWant[];
  /**
   * Addresses this owner may still carry entries for without wanting them any more: the ones
   * its Service last published (its ingress) that its allocations no longer hold — an
   * allocation moved in place (a pool's or a namespace's scope changed, the router's own
   * address). Their entries are read, so they go now; a narrowed read by the wanted addresses
   * alone left them to the resync, and the address's next holder failed on them meanwhile
   * (`already have such entry`; chaos, seed 4140000).
   */
  formerAddresses?: readonly FamilyAddress[];
}

export interface PlanResult {
  ops: Op[];
  outcomes: Map<string, RouterOutcome>;
}

/** Families whose global rules this owner's rules rely on. */
function familiesNeeding(p: OwnerProgram): Set<IPFamily> {
  const s = p.service;
  const out = new Set<IPFamily>();
  if (s?.lbEnabled) for (const a of s.lbAddresses) out.add(a.family);
  if (s?.snatEnabled) for (const a of s.snatAddresses) out.add(a.family);
  return out;
}

/**
 * Every menu a resync or garbage collection reads whole, for one pipelined round trip. Route
 * tables are not among them: they may hold a full BGP table, so only the routes that could carry
 * an advertised address are read ({@link routeReads}).
 */
export function menusToRead(): string[] {
  return FAMILIES.flatMap((f) => menusFor(f));
}

/** The route menus, for tests and tools that want the whole tables on purpose. */
export const ROUTE_MENUS: readonly string[] = FAMILIES.map((f) => ROUTE_MENU[f]);

/** Every prefix that contains `address` (`/0` to `/32` or `/128`), as the router prints dst-address. */
export function coveringPrefixes(family: IPFamily, address: string): string[] {
  const parsed = parseAddress(address);
  if (!parsed.ok || parsed.family !== family) return [];
  const bits = family === 'IPv4' ? 32 : 128;
  return Array.from({ length: bits + 1 }, (_, len) => {
    const shift = BigInt(bits - len);
    return `${formatAddress(family, (parsed.value >> shift) << shift)}/${len}`;
  });
}

/**
 * Narrowed route prints for the addresses this owner advertises without a named interface: only
 * routes whose dst-address contains one of them (the candidates for the router's own lookup), so
 * the cost is the same with 10 routes or a full BGP table.
 */
export function routeReads(p: OwnerProgram): ReadRequest[] {
  return FAMILIES.flatMap((f) => {
    const prefixes = new Set(p.adverts.filter((w) => w.advertise && !w.interfaceName && w.family === f).flatMap((w) => coveringPrefixes(f, w.address)));
    return prefixes.size === 0 ? [] : [{ menu: ROUTE_MENU[f], query: anyOf([...prefixes].map((prefix) => `dst-address=${prefix}`)) }];
  });
}

/**
 * Query conditions (for `anyOf`) finding the `/ip/address` entries whose network contains the
 * address of a want advertised without a named interface: the connected networks interfaceFor
 * weighs, by their `network` (one per covering prefix). Reading the menu whole instead returned
 * every other Service's advertisement too: O(N) per Service. `/ipv6/address` prints no network:
 * an IPv6 address's connected networks are its connected routes, which the narrowed route print
 * (routeReads) finds.
 */
function connectedConditions(w: AdvertisementWant): string[] {
  if (!w.advertise || w.interfaceName || w.family !== 'IPv4') return [];
  return coveringPrefixes('IPv4', w.address).map((prefix) => `network=${prefix.split('/')[0] ?? ''}`);
}

function desiredAdverts(p: OwnerProgram, state: Record<string, RouterEntry[]>, outcomes: Map<string, RouterOutcome>): DesiredMenus[] {
  const parts: DesiredMenus[] = [];
  for (const w of p.adverts) {
    const key = w.allocation.metadata.name;
    if (!w.advertise) {
      outcomes.set(key, { kind: 'notAdvertised' });
      continue;
    }
    const serviceUid = entryOwner(p.service, p.uid, w.family, w.address);
    const iface = w.interfaceName ?? interfaceFor(w.family, w.address, state[ROUTE_MENU[w.family]] ?? [], state[ADDRESS_MENU[w.family]] ?? []);
    const noRoute = `The router has no route to ${w.address}, so no interface to advertise it on; set interfaceName on its IPPool`;
    // an address advertised already (its pool named the interface, or a route led there) stays
    // where it is and keeps working, as when the router refuses to move it
    const kept = iface ? undefined : advertisedOn(state, w, serviceUid, p.cluster ?? DEFAULT_CLUSTER);
    const on = iface ?? kept;
    if (!on) {
      outcomes.set(key, { kind: 'failed', message: `${noRoute}.` });
      continue;
    }
    const adv = advertisementEntry({ serviceUid, family: w.family, address: w.address, interfaceName: on });
    parts.push({ [adv.menu]: [adv.entry] });
    outcomes.set(key, kept ? { kind: 'failed', message: `${noRoute} (it stays advertised on ${kept} meanwhile).`, advertisedOn: kept } : { kind: 'advertised', interfaceName: on });
  }
  return parts;
}

/** The interface the router advertises the want's address on for this owner now, if it does. */
function advertisedOn(state: Record<string, RouterEntry[]>, w: AdvertisementWant, serviceUid: string, cluster: string): string | undefined {
  const { menu, entry } = advertisementEntry({ serviceUid, family: w.family, address: w.address, interfaceName: '' });
  const comment = inCluster(entry.comment, cluster);
  return (state[menu] ?? []).find((e) => currentComment(e.comment) === comment)?.interface || undefined;
}

/**
 * A write of an advertisement the router refused (see refusedAdvert): the message its
 * allocation gets, and `keep`, when the write moved an advertised address to another interface,
 * the interface the router still advertises it on.
 */
export interface Refusal {
  message: string;
  keep?: string;
}

/** The owner with the advertisements the router refused to move left on the interface they are on. */
function withKept(p: OwnerProgram, failed: ReadonlyMap<string, Refusal>): OwnerProgram {
  const keep = (w: AdvertisementWant): string | undefined => (w.advertise ? failed.get(keyOf(w.family, w.address))?.keep : undefined);
  if (!p.adverts.some((w) => keep(w) !== undefined)) return p;
  return { ...p, adverts: p.adverts.map((w) => {
    const iface = keep(w);
    return iface === undefined ? w : { ...w, interfaceName: iface };
  }) };
}

/** The owner without the addresses the router itself holds (nothing of theirs is written). */
function withoutRefused(p: OwnerProgram, refused: Set<string>): OwnerProgram {
  if (refused.size === 0) return p;
  const keep = (a: { family: IPFamily; address: string }): boolean => !isRefused(refused, a);
  // a shared address's own entries (its LB list entry) are planned from addressOwners
  const ownedAddress = ([text]: [string, string]): boolean => {
    const parsed = parseAddress(text);
    return !parsed.ok || keep({ family: parsed.family, address: text });
  };
  const service = p.service ? {
    ...p.service, lbAddresses: p.service.lbAddresses.filter(keep), snatAddresses: p.service.snatAddresses.filter(keep),
    ...(p.service.addressOwners ? { addressOwners: Object.fromEntries(Object.entries(p.service.addressOwners).filter(ownedAddress)) } : {}),
  } : undefined;
  return { ...p, adverts: p.adverts.filter(keep), ...(service ? { service } : {}) };
}

/**
 * What the state says about the router's addresses: `complete` when every `/ip/address` entry
 * was read (a resync, or a narrowed read that had to read them), `own` when only this owner's
 * were (the hairpin rules then stay as they are; the next resync follows network changes).
 */
export type AddressView = 'complete' | 'own';

/** The hairpin networks to plan: the router's connected networks, or the ones already planned. */
function hairpinNetworksFor(f: IPFamily, state: Record<string, RouterEntry[]>, addresses: AddressView, cluster: string): string[] {
  return addresses === 'complete' ? connectedNetworks(f, state[ADDRESS_MENU[f]] ?? []) : hairpinNetworks(state[firewallMenu(f, 'nat')] ?? [], cluster);
}

/** A family's global rules, hairpin rules included (untagged: forCluster tags them). */
function familyGlobals(f: IPFamily, state: Record<string, RouterEntry[]>, addresses: AddressView, cluster: string): DesiredMenus {
  return mergeDesired(globalEntries(f), hairpinEntries(f, hairpinNetworksFor(f, state, addresses, cluster)));
}

/**
 * Pure: the ops that make the router carry exactly this owner's entries (and needed globals).
 * An address the router itself holds is refused before anything is planned for it. The globals
 * (hairpin rules included) depend only on the family and the router, never on the owner, so
 * every owner plans the same ones.
 */
export function planOwner(whole: OwnerProgram, state: Record<string, RouterEntry[]>, addresses: AddressView = 'complete', failed: ReadonlyMap<string, Refusal> = new Map()): PlanResult {
  const cluster = whole.cluster ?? DEFAULT_CLUSTER;
  const refused = refusedWants(whole.adverts, state, cluster);
  const outcomes = new Map<string, RouterOutcome>(refused.outcomes);
  // an advertisement the router refused to add (see refusedAdvert): its address is left out as
  // the router's own are, so the Service's other addresses are programmed; one it refused to
  // move stays where the router has it
  const dropped = [...failed].flatMap(([key, f]) => (f.keep === undefined ? [key] : []));
  const p = withoutRefused(withKept(whole, failed), new Set([...refused.addresses, ...dropped]));
  const needs = familiesNeeding(p);
  const desired = forCluster(mergeDesired(
    ...(p.service ? [serviceEntries(p.service)] : []),
    ...[...needs].map((f) => familyGlobals(f, state, addresses, cluster)),
    ...desiredAdverts(p, state, outcomes),
  ), cluster);
  for (const w of whole.adverts) {
    const f = failed.get(keyOf(w.family, w.address));
    if (f !== undefined && !refused.outcomes.has(w.allocation.metadata.name)) outcomes.set(w.allocation.metadata.name, { kind: 'failed', message: f.message, ...(f.keep === undefined ? {} : { advertisedOn: f.keep }) });
  }
  const routerState: RouterState = { version: '7', menus: state };
  const ops: Op[] = [];
  const own = ownScope(p, cluster);
  const globals = scopes.global(cluster);
  for (const f of FAMILIES) {
    const scope: Scope = needs.has(f) ? (o) => own(o) || globals(o) : own;
    ops.push(...planState(routerState, desired, scope, menusFor(f)));
  }
  return { ops, outcomes };
}

/** An entry of this Service that the MikroLB of another cluster wrote (see twinEntry). */
export interface TwinEntry {
  menu: string;
  entry: RouterEntry;
  cluster: string;
}

/**
 * An entry of this Service tagged for another cluster: the same uid under another
 * MIKROLB_CLUSTER_NAME — the installation renamed without uninstalling its old name's entries,
 * or a copy of the cluster sharing the router. A Service's chains and lists are named after its
 * uid, not the cluster, so those rules sit in its chains ahead of any we would add and take its
 * traffic to the endpoints they name: programmed anyway, the Service was reported Ready while
 * every connection to its new address went to the old rules' (gone) pods.
 */
export function twinEntry(p: Pick<OwnerProgram, 'uid' | 'service' | 'cluster'>, state: Record<string, RouterEntry[]>): TwinEntry | undefined {
  if (!p.service) return undefined;
  const cluster = p.cluster ?? DEFAULT_CLUSTER;
  for (const [menu, entries] of Object.entries(state)) {
    for (const entry of entries) {
      const owner = ownerOf(entry.comment);
      if (owner?.kind === 'service' && owner.uid === p.uid && owner.cluster !== cluster) return { menu, entry, cluster: owner.cluster };
    }
  }
  return undefined;
}

/** Why nothing is programmed for a Service with a twin entry, and what the operator does about it. */
export function twinMessage(t: TwinEntry): string {
  const where = `${t.menu} ${t.entry['.id'] ?? ''}${t.entry.chain ? ` in chain ${t.entry.chain}` : ''}`;
  const name = JSON.stringify(t.cluster);
  return `The router carries entries of this Service written by the MikroLB of cluster ${name} (${where}), which would take its traffic, so nothing is programmed for it: `
    + `if that is this installation under its old name, remove them with MIKROLB_CLUSTER_NAME=${t.cluster} mikrolb uninstall --router (docs/upgrading.md); `
    + `if it is another cluster with this Service's uid (a copy of this one), it cannot share the router.`;
}

/** The owners whose entries this owner plans: itself, and the shared addresses it holds. */
export function ownersOf(p: Pick<OwnerProgram, 'uid' | 'service'>): string[] {
  return [p.uid, ...new Set(Object.values(p.service?.addressOwners ?? {}))];
}

function ownScope(p: OwnerProgram, cluster: string): Scope {
  const each = ownersOf(p).map((uid) => scopes.service(uid, cluster));
  return (o) => each.some((s) => s(o));
}

/** The built-in chains our global rules live in: read whole, since order within them matters. */
const BUILTIN_CHAINS: Record<string, readonly string[]> = { filter: ['input', 'forward'], mangle: ['prerouting'], nat: ['dstnat', 'srcnat'] };

/**
 * A whole-router read split by owner, so that planning each of N owners against it costs what
 * its own entries cost: each owner sees the built-in chains (and their foreign rules) plus its
 * own entries, in router order — exactly what a narrowed read would have returned. Entries of
 * other clusters' Services are nobody's here, but for their (and foreign) LB list entries and
 * addresses, which every owner sees (they hold an address), and those of the owner's own uid,
 * which sit in its chains as a narrowed read finds them (twinEntry).
 */
export function partitionState(state: Record<string, RouterEntry[]>, cluster: string = DEFAULT_CLUSTER): (uid: string, also?: readonly string[]) => Record<string, RouterEntry[]> {
  const shared: Record<string, [number, RouterEntry][]> = {};
  const byOwner = new Map<string, Record<string, [number, RouterEntry][]>>();
  for (const [menu, entries] of Object.entries(state)) {
    entries.forEach((e, i) => {
      const part = partOf(menu, e, cluster);
      if (part === SHARED) {
        (shared[menu] ??= []).push([i, e]);
      } else if (part !== undefined) {
        const own = byOwner.get(part) ?? {};
        (own[menu] ??= []).push([i, e]);
        byOwner.set(part, own);
      }
    });
  }
  // `also`: the shared addresses' owners whose entries the owner plans with its own (ownersOf)
  return (uid, also = []) => {
    const owns = [uid, ...also.filter((o) => o !== uid)].map((o) => byOwner.get(o) ?? {});
    const menus = new Set([...Object.keys(shared), ...owns.flatMap((own) => Object.keys(own))]);
    return Object.fromEntries([...menus].map((m) => [m, [...(shared[m] ?? []), ...owns.flatMap((own) => own[m] ?? [])].sort((a, b) => a[0] - b[0]).map(([, e]) => e)]));
  };
}

const SHARED = Symbol('shared');

/**
 * Where partitionState puts an entry: in every owner's share (SHARED: the built-in chains, the
 * routes, entries outside the firewall and LB list entries not of this cluster), in the
 * share of the Service uid its tag names, or in nobody's (undefined).
 */
function partOf(menu: string, e: RouterEntry, cluster: string): typeof SHARED | string | undefined {
  const builtin = BUILTIN_CHAINS[menu.split('/').pop() ?? ''] ?? [];
  // as plans see it: an address wider than a host is the router's (routerHolder), whatever its comment
  const owner = plannedOwner(menu, e);
  // an LB list entry or an address not of this cluster holds its address for every owner
  // (listHolder, routerHolder): another cluster's advertisement as much as the router's own
  const holder = owner?.cluster !== cluster && (e.list === LB_LIST || !menu.includes('/firewall/'));
  if ((e.chain !== undefined && builtin.includes(e.chain)) || menu.endsWith('/route') || holder) return SHARED;
  return owner?.kind === 'service' ? owner.uid : undefined;
}

/**
 * For a whole read (the state partitionState splits): the one uid whose share alone a plan's
 * ops changed, or undefined when they touched anything else — an entry every owner sees (a
 * global rule, a hairpin rule), an entry of another uid (a shared address's), or one the read
 * does not hold. When it is a uid, every other owner's share of a read taken after the write
 * is its share of this one: their entries, and the order among them, are what they were.
 */
export function soleOwnerOf(state: Record<string, RouterEntry[]>, cluster: string = DEFAULT_CLUSTER): (ops: readonly Op[]) => string | undefined {
  const byId = new Map<string, Map<string, RouterEntry>>();
  const entryAt = (menu: string, id: string): RouterEntry | undefined => {
    let menuIds = byId.get(menu);
    if (menuIds === undefined) {
      menuIds = new Map((state[menu] ?? []).map((e) => [e['.id'] ?? '', e]));
      byId.set(menu, menuIds);
    }
    return menuIds.get(id);
  };
  const partsOf = (op: Op): (typeof SHARED | string | undefined)[] => {
    switch (op.op) {
      case 'add':
        return [partOf(op.menu, op.entry, cluster)];
      case 'set': {
        const before = entryAt(op.menu, op.id);
        return before === undefined ? [undefined] : [partOf(op.menu, before, cluster), partOf(op.menu, { ...before, ...op.changes }, cluster)];
      }
      case 'remove':
      case 'move':
        return op.ids.map((id) => {
          const e = entryAt(op.menu, id);
          return e === undefined ? undefined : partOf(op.menu, e, cluster);
        });
    }
  };
  return (ops) => {
    let sole: string | undefined;
    for (const op of ops) {
      for (const part of partsOf(op)) {
        if (typeof part !== 'string' || (sole !== undefined && part !== sole)) return undefined;
        sole = part;
      }
    }
    return sole;
  };
}

/** `?a ?b ?c ?#| ?#|`: any of the conditions (RouterOS evaluates query words on a stack). */
function anyOf(conditions: readonly string[]): string[] {
  const words: string[] = [];
  for (const c of conditions) words.push(`?${c}`);
  for (let i = 1; i < conditions.length; i++) words.push('?#|');
  return words;
}

/**
 * Narrowed prints for one owner: the built-in chains our globals sit in (of the families whose
 * global rules it could need: an IPv4 Service reads no IPv6 built-in chain), this owner's own
 * chains and lists, and its other entries by their exact comments. Reading only these keeps an
 * invocation's cost independent of how many other Services the router carries. Entries of this
 * owner that none of these finds (say, a chain of a port removed long ago) are left to the
 * resync, which reads whole menus.
 */
export function readsFor(p: OwnerProgram): ReadRequest[] {
  return ownerReads(p).map(({ request }) => request);
}

/** A narrowed print with the chains it asks for, so a later step need not parse them back. */
interface OwnerRead {
  request: ReadRequest;
  chains: ReadonlySet<string>;
}

/**
 * The owner as if load balancing and SNAT were on: everything it could have on the router now,
 * so that switching either off finds the entries to remove. SNAT switched off leaves the model
 * no SNAT address (they come from the `snat-ips` annotation), so its addresses stand in for
 * them: the SNAT rule's comment names no address, and one rule per family is read.
 */
function everything(p: OwnerProgram): OwnerProgram {
  if (!p.service) return p;
  const { snatAddresses } = p.service;
  const wanted = new Set(p.service.lbAddresses.map((a) => a.address));
  const lbAddresses = [...p.service.lbAddresses, ...(p.formerAddresses ?? []).filter((a) => !wanted.has(a.address))];
  const known = new Set(snatAddresses.map((a) => a.address));
  return { ...p, service: { ...p.service, lbEnabled: true, snatEnabled: true, lbAddresses, snatAddresses: [...snatAddresses, ...lbAddresses.filter((a) => !known.has(a.address))] } };
}

/**
 * The entries of {@link everything}. A Service that shares its addresses also reads their own
 * entries as it wrote them before it shared them (owned by itself, not by the address): they
 * clash with the address's, and go first (the planner's clashesFirst) only if they are read.
 */
function possibleEntries(all: OwnerProgram): DesiredMenus {
  const shares = all.service?.addressOwners !== undefined && Object.keys(all.service.addressOwners).length > 0;
  const merged = mergeDesired(
    ...(all.service ? [serviceEntries(all.service)] : []),
    ...(all.service && shares ? [serviceEntries({ ...all.service, addressOwners: {} })] : []),
    ...[...all.adverts, ...(all.formerAddresses ?? [])].map((w) => {
      const adv = advertisementEntry({ serviceUid: entryOwner(all.service, all.uid, w.family, w.address), family: w.family, address: w.address, interfaceName: 'any' });
      return { [adv.menu]: [adv.entry] };
    }),
  );
  const unique = shares ? Object.fromEntries(Object.entries(merged).map(([menu, entries]) => [menu, [...new Map(entries.map((e) => [e.comment, e])).values()]])) : merged;
  return forCluster(unique, all.cluster ?? DEFAULT_CLUSTER);
}

/**
 * The narrowed print of one menu: its chains (the built-in ones our globals sit in when
 * `builtin`, the owner's own), its lists, its entries by their exact comments (and the comment
 * the default cluster wrote before cluster names), and `holders`: in an address menu or an
 * address list, the conditions finding the foreign entries that hold one of the owner's
 * addresses (and, in `/ip/address`, the connected networks of its addresses advertised without
 * a named interface: connectedConditions). Plain loops over the entries: they come in many shapes.
 */
function menuRead(menu: string, entries: readonly DesiredEntry[], serviceUid: string | undefined, holders: readonly string[], builtin: boolean): OwnerRead | undefined {
  const table = menu.split('/').pop() ?? '';
  const chains = new Set(builtin ? BUILTIN_CHAINS[table] ?? [] : []);
  const lists = new Set<string>();
  const comments: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e === undefined) continue;
    if (isServiceChain(e.chain)) chains.add(e.chain);
    if (isServiceChain(e['jump-target'])) chains.add(e['jump-target']);
    if (e.list !== undefined && e.list !== LB_LIST) lists.add(e.list);
    comments.push(e.comment);
    const legacy = legacyComment(e.comment);
    if (legacy !== undefined) comments.push(legacy);
  }
  // a Service's drop rules (source ranges) sit in the shared `mikrolb-input`: read it whole, so rules of ranges lifted go too
  if (table === 'filter' && serviceUid !== undefined) chains.add(INPUT_CHAIN);
  // the owner's SNAT and source lists are read even when they should now be empty (no endpoints, no ranges left)
  if (table === 'address-list' && serviceUid !== undefined) {
    lists.add(snatList(serviceUid));
    lists.add(sourceList(serviceUid));
  }
  const conditions: string[] = [];
  // its chain, the jumps into it and its SNAT rule are read even when no address of its is left
  // (an allocation that lost its address in place, say leaving a shared address whose holders
  // now use one of its ports): so its rules go with the address
  if (table === 'nat' && serviceUid !== undefined) {
    chains.add(serviceChain(serviceUid));
    conditions.push(`jump-target=${serviceChain(serviceUid)}`, `src-address-list=${snatList(serviceUid)}`);
  }
  for (const c of chains) conditions.push(`chain=${c}`);
  for (const l of lists) conditions.push(`list=${l}`);
  for (const c of comments) conditions.push(`comment=${c}`);
  for (const h of holders) conditions.push(h);
  return conditions.length > 0 ? { request: { menu, query: anyOf(conditions) }, chains } : undefined;
}

/**
 * The narrowed prints of an owner, menu by menu. In pieces V8 optimizes one by one: as a
 * single function, with the entries' many shapes, it was optimized, deoptimized and compiled
 * again five times in a 1,000-Service burst, ~180 ms of a core each time (docs/performance.md).
 */
function ownerReads(p: OwnerProgram): OwnerRead[] {
  const all = everything(p);
  const desired = possibleEntries(all);
  const reads: OwnerRead[] = [];
  const serviceUid = p.service ? p.uid : undefined;
  // the built-in chains (the user's own rules, our global jumps) matter only to a family whose
  // global rules the owner could need: planOwner plans no global rule of any other
  const globalFamilies = familiesNeeding(all);
  for (const f of FAMILIES) {
    // foreign entries holding one of the owner's addresses (the router's own, or a foreign
    // entry of the LB list) are refused
    const wants = p.adverts.filter((w) => w.family === f);
    const addresses = [...wants.flatMap(holderConditions), ...new Set(wants.flatMap(connectedConditions))];
    const holders: Record<string, string[]> = { [ADDRESS_MENU[f]]: addresses, [firewallMenu(f, 'address-list')]: wants.flatMap(listHolderConditions) };
    for (const menu of menusFor(f)) {
      const read = menuRead(menu, desired[menu] ?? [], serviceUid, holders[menu] ?? [], globalFamilies.has(f));
      if (read) reads.push(read);
    }
    reads.push(...routeReads(p).filter((r) => r.menu === ROUTE_MENU[f]).map((request) => ({ request, chains: new Set<string>() })));
  }
  return reads;
}

/**
 * The narrowed read, plus a second read only when needed: every address of a family whose
 * global rules this owner creates (see withAddresses), and (only when ports changed) the port
 * chains the Service's own chain still jumps to but the first read did not ask for, so their
 * rules go too.
 */
async function readOwner(router: RouterPort, p: OwnerProgram): Promise<{ state: Record<string, RouterEntry[]>; addresses: AddressView }> {
  const reads = ownerReads(p);
  const state = await withAddresses(router, p, await router.read(reads.map((r) => r.request)));
  const whole = (f: IPFamily): boolean => state.wholeAddresses.has(f) || reads.some(({ request: r }) => r.menu === ADDRESS_MENU[f] && r.query === undefined);
  const addresses: AddressView = [...familiesNeeding(p)].every(whole) ? 'complete' : 'own';
  return { state: await withMissingChains(router, reads, state.entries), addresses };
}

/**
 * The global rules are created with this owner (the router has none of a family it needs):
 * reads that family's addresses whole too, so the hairpin rules start with every connected
 * network rather than waiting for the next resync.
 */
async function withAddresses(router: RouterPort, p: OwnerProgram, state: Record<string, RouterEntry[]>): Promise<{ entries: Record<string, RouterEntry[]>; wholeAddresses: Set<IPFamily> }> {
  const snatJump = globalComment('nat-srcnat-jump-snat', p.cluster ?? DEFAULT_CLUSTER);
  const creating = [...familiesNeeding(p)].filter((f) => !(state[firewallMenu(f, 'nat')] ?? []).some((e) => currentComment(e.comment) === snatJump));
  if (creating.length === 0) return { entries: state, wholeAddresses: new Set() };
  const extra = await router.read(creating.map((f) => ({ menu: ADDRESS_MENU[f] })));
  return { entries: { ...state, ...extra }, wholeAddresses: new Set(creating) };
}

/** The port chains the Service's chain jumps to that the narrowed read did not ask for. */
async function withMissingChains(router: RouterPort, reads: readonly OwnerRead[], state: Record<string, RouterEntry[]>): Promise<Record<string, RouterEntry[]>> {
  const missing = reads.flatMap(({ request: { menu }, chains }) => (state[menu] ?? []).flatMap((e) => {
    const target = e['jump-target'];
    return e.action === 'jump' && isServiceChain(target) && !chains.has(target) ? [{ menu, chain: target }] : [];
  }));
  if (missing.length === 0) return state;
  const extra = await router.read([...new Set(missing.map((m) => m.menu))].map((menu) => ({ menu, query: anyOf(missing.filter((m) => m.menu === menu).map((m) => `chain=${m.chain}`)) })));
  const merged = { ...state };
  for (const [menu, entries] of Object.entries(extra)) {
    const seen = new Set((merged[menu] ?? []).map((e) => e['.id']));
    merged[menu] = [...(merged[menu] ?? []), ...entries.filter((e) => !seen.has(e['.id']))];
  }
  return merged;
}

/**
 * Pure: the ops that make the router carry exactly the global rules (hairpin rules included) of
 * these families for `cluster`, the ones the first Service of each family would create, from a
 * state holding the built-in chains and the families' addresses whole (see prepareGlobals).
 */
export function planGlobals(families: Iterable<IPFamily>, state: Record<string, RouterEntry[]>, cluster: string = DEFAULT_CLUSTER): Op[] {
  const wanted = new Set(families);
  const chosen = FAMILIES.filter((f) => wanted.has(f));
  const desired = forCluster(mergeDesired(...chosen.map((f) => familyGlobals(f, state, 'complete', cluster))), cluster);
  const routerState: RouterState = { version: '7', menus: state };
  return chosen.flatMap((f) => planState(routerState, desired, scopes.global(cluster), menusFor(f)));
}

/** The firewall tables whose built-in chains hold global rules (BUILTIN_CHAINS). */
const GLOBAL_TABLES = ['filter', 'mangle', 'nat'] as const;

/** One round trip: the built-in chains the global rules sit in, and every address, of each family. */
function globalsReads(families: Iterable<IPFamily>): ReadRequest[] {
  return [...new Set(families)].flatMap((f) => [
    ...GLOBAL_TABLES.map((table) => ({ menu: firewallMenu(f, table), query: anyOf((BUILTIN_CHAINS[table] ?? []).map((c) => `chain=${c}`)) })),
    { menu: ADDRESS_MENU[f] },
  ]);
}

/**
 * Creates (or corrects) the global rules of these families before any Service needs them, so
 * that no Service pays for them: without this the first Services of a family read its addresses
 * once more and, when several create the rules at once, meet a router conflict and retry. Reads
 * (one round trip), plans the global scope only, and writes staged like programOwner (nothing
 * when the router already carries them); on a router conflict (a Service creating them at the
 * same moment) reads and plans again. Resolves with the ops written.
 */
export async function prepareGlobals(router: RouterPort, families: Iterable<IPFamily>, cluster: string = DEFAULT_CLUSTER): Promise<Op[]> {
  const chosen = [...new Set(families)];
  if (chosen.length === 0) return [];
  for (let attempt = 1; ; attempt++) {
    const ops = planGlobals(chosen, await router.read(globalsReads(chosen)), cluster);
    try {
      for (const stage of stagePlan(ops)) await router.execute(stage);
      return ops;
    } catch (e) {
      if (attempt >= CONFLICT_ATTEMPTS || !isRouterConflict(e)) throw e;
    }
  }
}

/**
 * Another invocation changed the same entries between our read and our write (two events for
 * one Service, or two Services adding the global rules): the router's optimistic-concurrency
 * conflict. Re-read and plan again, as a 409 is handled against the API server.
 */
export const isRouterConflict = (e: unknown): boolean => isAlreadyExists(e) || isNotFound(e);

const CONFLICT_ATTEMPTS = 4;

/** A whole-menu state (resync, release) lacks routes: add the narrowed route prints this owner needs. */
async function withRoutes(router: RouterPort, p: OwnerProgram, state: Record<string, RouterEntry[]>): Promise<Record<string, RouterEntry[]>> {
  const missing = routeReads(p).filter((r) => state[r.menu] === undefined);
  return missing.length === 0 ? state : { ...state, ...await router.read(missing) };
}

/** How program words a router failure, on the allocations it concerns and the Service. */
export const routerFailure = (e: unknown): string => `The router refused or did not answer: ${messageOf(e)}`;

/**
 * The address whose advertisement the router refused to write (an interface it does not have,
 * say), when the failure of a round trip is that: a refusal of the `add` of one of our
 * `/ip/address` (`/ipv6/address`) entries, or of the `set` moving one to another interface,
 * which concerns that address only. Not a conflict (read again and retried), a missing
 * permission (every write of the owner meets it), nor a failure without an answer (nothing
 * tells what landed): those concern the whole owner. A refused move keeps the interface the
 * entry has (`keep`): the address goes on working there.
 */
function refusedAdvert(e: unknown, stage: readonly Op[], p: OwnerProgram, state: Record<string, RouterEntry[]>): { key: string; refusal: Refusal } | undefined {
  if (!isRouterError(e) || (e.kind !== 'trap' && e.kind !== 'input') || isRouterConflict(e) || isPermission(e) || e.opIndex === undefined) return undefined;
  const op = stage[e.opIndex];
  const moved = op?.op === 'set' && op.changes.interface !== undefined ? (state[op.menu] ?? []).find((x) => x['.id'] === op.id) : undefined;
  const written = op?.op === 'add' ? op.entry : moved;
  const text = written?.address?.split('/')[0] ?? '';
  const host = parseAddress(text);
  if (op === undefined || !host.ok || op.menu !== ADDRESS_MENU[host.family]) return undefined;
  const key = keyOf(host.family, text);
  if (!p.adverts.some((w) => w.advertise && keyOf(w.family, w.address) === key)) return undefined;
  if (op.op === 'add') return { key, refusal: { message: routerFailure(e) } };
  const keep = moved?.interface;
  if (op.op !== 'set' || keep === undefined) return undefined;
  const message = `${routerFailure(e)} (moving ${text} to interface ${op.changes.interface ?? ''}; it stays advertised on ${keep})`;
  return { key, refusal: { message, keep } };
}

/**
 * Reads (one round trip; narrowed, or the given whole state first), plans, and writes (one to
 * four round trips, only when something differs: see stagePlan); on a router conflict, reads
 * narrowed and tries again. Resolves with the last plan's outcomes and, as `ops`, every op it
 * sent: an attempt a conflict ended may have landed in part (another writer changed the router
 * meanwhile), so a last plan with nothing left to do does not mean nothing was written.
 *
 * When the router refuses to add the advertisement of one address (see refusedAdvert), that
 * address alone fails: it reads and plans again without it (nothing of it is written, what it
 * has is taken off, as for an address the router holds), or, when the router refused to move
 * an advertised address to another interface, with that address left on the interface it is
 * on (it keeps working there). So the owner's other addresses are programmed, and a release
 * that re-plans a Service without one of its addresses takes that one off although another
 * cannot be advertised. The refused allocations get a `failed` outcome, and `refused` the
 * first refusal's message (the caller retries later). Costs round trips only after a refusal.
 *
 * `refuseTwins` (program): a Service whose entries another cluster wrote (see twinEntry) gets
 * nothing written, every allocation a `failed` outcome, and `refused` says why. Release plans
 * without it: what it takes off goes all the same.
 */
export async function programOwner(router: RouterPort, p: OwnerProgram, opts: { state?: Record<string, RouterEntry[]>; read?: () => Promise<Record<string, RouterEntry[]>>; refuseTwins?: boolean } = {}): Promise<PlanResult & { refused?: string }> {
  let given = opts.state;
  const custom = opts.read;
  const read = custom ? async () => ({ state: await custom(), addresses: 'complete' as const }) : () => readOwner(router, p);
  const sent: Op[] = [];
  const failed = new Map<string, Refusal>();
  const refused = (): { refused?: string } => {
    const [first] = failed.values();
    return first === undefined ? {} : { refused: first.message };
  };
  for (let conflicts = 1; ;) {
    const got = given ? { state: given, addresses: 'complete' as const } : await read();
    const state = await withRoutes(router, p, got.state);
    const { addresses } = got;
    given = undefined;
    const twin = opts.refuseTwins ? twinEntry(p, state) : undefined;
    if (twin !== undefined) {
      const message = twinMessage(twin);
      return { ops: sent, outcomes: new Map(p.adverts.map((w) => [w.allocation.metadata.name, { kind: 'failed', message }])), refused: message };
    }
    const result = planOwner(p, state, addresses, failed);
    if (result.ops.length === 0) return { ...result, ops: sent, ...refused() };
    sent.push(...result.ops);
    let stage: readonly Op[] = [];
    try {
      for (stage of stagePlan(result.ops, state)) await router.execute(stage);
      return { ...result, ops: sent, ...refused() };
    } catch (e) {
      const advert = refusedAdvert(e, stage, p, state);
      if (advert !== undefined && !failed.has(advert.key)) {
        failed.set(advert.key, advert.refusal);
        continue;
      }
      if (conflicts >= CONFLICT_ATTEMPTS || !isRouterConflict(e)) throw e;
      conflicts++;
    }
  }
}
