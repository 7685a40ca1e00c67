import { holdersOf, sharedAddressOwner } from '../../lib/core/sharing.js';
import { programOwner } from '../../lib/core/router-program.js';
import { claimNameOf, readableClaim } from '../../lib/k8s/claims.js';
import type { IPAddressClaim } from '../../lib/k8s/schemas.js';
import { DEFAULT_CLUSTER } from '../../lib/router/index.js';
import { ownerOf } from '../../lib/router/names.js';
import { formatAddress, parseAddress, parseAddressName } from '../../lib/ip/index.js';
import { addressMenu, firewallMenu } from '../../lib/router/menus.js';
import type { RouterEntry } from '../../lib/router/state.js';
import { RouterUnavailableError, type ProgramDeps, type ProgramReport } from './deps.js';
import { messageOf } from '../../lib/errors.js';

/** Programs an allocation's Service (or the operator reservation itself), by the allocation's name. */
export type ProgramHolder = (allocationName: string) => Promise<void>;

/** The address a claim of this name holds; undefined for a name that is no address's. */
export function addressOfClaim(name: string): string | undefined {
  const a = parseAddressName(name);
  return a ? formatAddress(a.family, a.value) : undefined;
}

/**
 * The router's entries holding an address: its advertisements and its LB address-list entries,
 * whoever owns them (the plan takes off only the shared owner's). An owner with nothing to
 * write has no narrowed read of its own: this is it.
 */
async function entriesOfAddress(deps: ProgramDeps, address: string): Promise<Record<string, RouterEntry[]>> {
  const p = parseAddress(address);
  if (!p.ok) return {};
  const host = `${formatAddress(p.family, p.value)}/${p.family === 'IPv4' ? 32 : 128}`;
  return deps.router.read([
    { menu: addressMenu(p.family), query: [`?address=${host}`] },
    // a router may print a host of a list bare or with its /32 or /128: ask for either
    { menu: firewallMenu(p.family, 'address-list'), query: [`?address=${formatAddress(p.family, p.value)}`, `?address=${host}`, '?#|'] },
  ]);
}

/**
 * A shared address's own entries (its advertisement and its entry in the LB address list,
 * owned by `sharedAddressOwner(address)`) stand while its claim is shared: each holder's
 * program writes them. They go when the claim stops being shared — freed, or left to one
 * Service that dropped its key (allocate then keeps the claim, unshared) — or the router keeps
 * advertising a freed address and refuses the advertisement of the Service that holds it alone
 * ("already have such address"). Whoever saw the claim stop being shared takes them off here:
 * program woken by the claim's change, and program settling a write for an address it no
 * longer holds. A Service may share the address anew meanwhile (its program writing the
 * entries before this takes them off), or hold it alone now (its own entries refused while
 * these stood): so the claim is read again after a removal, and its holders are programmed.
 * A claim we cannot read (readClaim) shares the address with none of ours, as a freed one.
 */
export async function dropUnsharedEntries(deps: ProgramDeps, address: string, report: ProgramReport, programHolder: ProgramHolder): Promise<void> {
  const name = claimNameOf(address);
  if (!name || (await readableClaim(deps.kube, name))?.spec.sharingKey !== undefined) return; // its holders' programs keep them
  await takeOffAddressEntries(deps, address, report, programHolder);
}

/**
 * A Service's router write failed: an address it holds may still carry the entries of when it
 * was shared, and the router then refuses the Service's own ("already have such entry"). Those
 * entries go with the claim's sharing (claimSharingChanged), but a change no bridge saw reaches
 * no program: allocate may drop a claim's key while no bridge watches (one restarting, the
 * other not leader), and the restarted bridge lists the claim as it is, with nothing to compare
 * it to (chaos, seed 4242). So program meeting a failure checks each address as
 * dropUnsharedEntries does, its claim read first. Best effort: the caller reports its own
 * failure whatever happens here.
 */
export async function dropStaleSharedEntries(deps: ProgramDeps, addresses: readonly string[], report: ProgramReport, programHolder: ProgramHolder): Promise<void> {
  for (const address of addresses) {
    try {
      await dropUnsharedEntries(deps, address, report, programHolder);
    } catch (e) {
      // the router is often what failed (unreachable): the caller's failure says so already
      deps.log.debug('Checking an address for the entries of its sharing failed', { address, error: messageOf(e) });
    }
  }
}

/**
 * Program woken by a claim whose sharing changed (the bridge sends a shared claim's delete and
 * every change of a claim's key). Shared now: its holders are programmed, so the address's own
 * entries replace what a holder wrote as its own while its key was not recorded in the claim
 * yet (program plans the address's entries only for a shared claim: sharedAddressesOf). Not
 * shared (or gone): its entries go, as dropUnsharedEntries says.
 */
export async function claimSharingChanged(deps: ProgramDeps, address: string, report: ProgramReport, programHolder: ProgramHolder): Promise<void> {
  const name = claimNameOf(address);
  if (!name) return;
  const claim = await readableClaim(deps.kube, name);
  if (claim?.spec.sharingKey === undefined) return takeOffAddressEntries(deps, address, report, programHolder, { claimEvent: { claim } });
  if (await handedOver(deps, address)) {
    report.actions.push(`${address}: its entries are the shared address's already`);
    return;
  }
  for (const h of holdersOf(claim.spec)) await programHolder(h.allocationName);
}

/**
 * Whether this cluster's entries holding a shared address are all the address's own (and there
 * is one): its holders' programs since it became shared wrote them, and programming the holders
 * would hand nothing over. An ApiServerSource sends program every update of a claim (each holder
 * joining or leaving), which would otherwise program every holder each time. One narrowed read.
 */
async function handedOver(deps: ProgramDeps, address: string): Promise<boolean> {
  const owner = sharedAddressOwner(address);
  const cluster = deps.classes.clusterName ?? DEFAULT_CLUSTER;
  const entries = await entriesOfAddress(deps, address).catch((e: unknown) => {
    throw new RouterUnavailableError(`Reading the entries of ${address}, shared now, failed: ${messageOf(e)}`);
  });
  const owners = Object.values(entries).flat().flatMap((e) => {
    const o = ownerOf(e.comment);
    return o?.kind === 'service' && o.cluster === cluster ? [o.uid] : [];
  });
  return owners.length > 0 && owners.every((uid) => uid === owner);
}

/**
 * Whether a holder's program has written entries of the address since its shared entries went:
 * an entry of this cluster holding it that is not the shared owner's.
 */
function holderWrote(entries: Record<string, RouterEntry[]>, owner: string, cluster: string): boolean {
  return Object.values(entries).flat().some((e) => {
    const o = ownerOf(e.comment);
    return o?.kind === 'service' && o.cluster === cluster && o.uid !== owner;
  });
}

/**
 * `claimEvent`: run for the claim's own event (with the claim as it read it), which a failed
 * run's retry repeats: with nothing to take off and no holder's own entry standing, an earlier
 * run may have taken the shared entries off and failed before it programmed the holders (its
 * reply lost with the connection), so they are programmed now. Not for the other callers: a
 * holder's failed write (dropStaleSharedEntries) would program that holder again, and fail
 * again, without end.
 */
async function takeOffAddressEntries(deps: ProgramDeps, address: string, report: ProgramReport, programHolder: ProgramHolder, opts: { claimEvent?: { claim: IPAddressClaim | undefined } } = {}): Promise<void> {
  const owner = sharedAddressOwner(address);
  const name = claimNameOf(address);
  if (!owner || !name) return;
  const cluster = deps.classes.clusterName ?? DEFAULT_CLUSTER;
  let ops;
  let first: Record<string, RouterEntry[]>;
  try {
    first = await entriesOfAddress(deps, address);
    ({ ops } = await programOwner(deps.router, { uid: owner, adverts: [], cluster }, { state: first, read: () => entriesOfAddress(deps, address) }));
  } catch (e) {
    throw new RouterUnavailableError(`Taking off the entries of ${address}, no longer shared, failed: ${messageOf(e)}`);
  }
  if (ops.length === 0) {
    const claim = opts.claimEvent?.claim;
    if (!claim || holderWrote(first, owner, cluster)) return;
    for (const h of holdersOf(claim.spec)) await programHolder(h.allocationName);
    return;
  }
  report.routerOps += ops.length;
  report.actions.push(`router: ${ops.length} change(s) for ${owner} (the address is no longer shared)`);
  deps.log.info('Took off the entries of an address no longer shared', { address, ops: ops.length });
  // whoever holds the address now is programmed: a Service that shares it anew, whose entries
  // this may have taken off, or the one that kept it alone, whose own entries the router
  // refused while these stood
  const now = await readableClaim(deps.kube, name);
  if (now) for (const h of holdersOf(now.spec)) await programHolder(h.allocationName);
}
