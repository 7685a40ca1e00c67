import { poolKeeping, type PoolView } from '../../lib/core/pools.js';
import { formatAddress, parseAddressName } from '../../lib/ip/index.js';
import { messageOf } from '../../lib/errors.js';
import type { IPPool } from '../../lib/k8s/schemas.js';
import type { AllocateRun } from './deps.js';

/** A claim that exists but is none allocate can read: its name, and what is wrong with it. */
export interface Unreadable {
  name: string;
  problem: string;
}

/** The address an unreadable claim's name stands for (its spec cannot be trusted). */
export const addressOfClaim = (name: string): string => {
  const a = parseAddressName(name);
  return a ? formatAddress(a.family, a.value) : name;
};

/**
 * Says that an unreadable claim holds its address (a log line, and a Warning event on the pool
 * keeping the address, best effort): the address counts as taken by whoever made the claim,
 * which is never deleted or overwritten here. The note names only the claim and its problem,
 * so each run that meets it counts one more of the same event.
 */
export async function sayClaimUnreadable(deps: AllocateRun, pool: IPPool | undefined, u: Unreadable, allocation?: string): Promise<void> {
  const address = addressOfClaim(u.name);
  deps.log.warn('An IPAddressClaim that does not match the schema holds its address; the address counts as taken', { claim: u.name, problem: u.problem, pool: pool?.metadata.name, allocation });
  if (!pool) return;
  const note = `IPAddressClaim ${u.name} is not one MikroLB can read (${u.problem}): address ${address} counts as taken and is handed to no one. Fix or delete the claim to free it.`;
  try {
    await deps.kube.recordEvent({ regarding: { kind: 'IPPool', name: pool.metadata.name, uid: pool.metadata.uid }, type: 'Warning', reason: 'ClaimUnreadable', note, action: 'Allocate' });
  } catch (err) {
    deps.log.warn('Could not record an event', { pool: pool.metadata.name, reason: 'ClaimUnreadable', error: messageOf(err) });
  }
}

/** Reports every unreadable claim the hint knows of (the resync's check), on the pool keeping its address. */
export async function reportUnreadable(deps: AllocateRun, views: readonly PoolView[]): Promise<void> {
  for (const [name, problem] of deps.hint.unreadableClaims()) {
    await sayClaimUnreadable(deps, poolKeeping(views, addressOfClaim(name))?.pool, { name, problem });
  }
}
