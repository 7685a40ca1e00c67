import { contains, parseAddressName } from '../ip/index.js';
import type { IPPool } from '../k8s/schemas.js';
import { viewPools } from './pools.js';

/**
 * The pools a deleted IPAddressClaim's address belongs to, found from its name alone (the claim,
 * and its `mikrolb.de/pool` label, can no longer be read): every pool that keeps the address.
 * A name that is no address names no pool.
 */
export function poolsKeepingAddressName(name: string, pools: readonly IPPool[]): string[] {
  const address = parseAddressName(name);
  if (!address) return [];
  return viewPools(pools)
    .filter((view) => view.family === address.family && contains(view.kept, address.value))
    .map((view) => view.name);
}
