import { chooseFrom, contains, formatAddress, isEmpty, parseAddress, specialPurposeBlock, startFor, type IPFamily, type Taken } from '../ip/index.js';
import { olderFirst } from '../ip/index.js';
import type { IPAddressClaimSpec, IPAllocation } from '../k8s/schemas.js';
import { autoAssignOrder, scopeRefusal, type Requester } from './pool-scope.js';
import { describeEntryErrors, olderPools, type PoolView } from './pools.js';
import { overlappingPorts, type Sharing } from './sharing.js';

/** Every reason an allocation fails with (its Ready condition's reason, its Warning event's). */
export const FAILURE_REASONS = [
  'AddressInvalid', 'AddressAlreadyUsed', 'AddressNotInPool',
  'PoolNotFound', 'PoolIPFamilyMismatch', 'PoolExhausted',
  // an explicit address of a family the Service does not have (it could never be published)
  'AddressIPFamilyMismatch',
  // a pool (named, or holding the explicit address) whose serviceAllocation does not match the Service
  'PoolScopeMismatch',
] as const;

export type FailureReason = (typeof FAILURE_REASONS)[number];

export type Decision =
  | { ok: true; pool: string; address: string; /** the allocation already holds this address's claim */ held: boolean }
  | { ok: false; reason: FailureReason; message: string };

/** An address held by an allocation: what its IPAddressClaim records. */
export type Holding = IPAddressClaimSpec;

export interface AssignInput {
  allocation: IPAllocation;
  /** Every pool (a pool being deleted hands out nothing new, but its holders keep their addresses). */
  pools: readonly PoolView[];
  /** The claim this allocation holds, as the caller verified it. */
  held?: Holding;
  /**
   * The addresses of a family the caller knows to be taken. A hint: an
   * address missing here may still be taken (its claim's create then fails and the caller
   * decides again); an address listed here is skipped.
   */
  taken: (family: IPFamily) => Taken;
  /** spec.ipFamilies of the Service the allocation belongs to, when it has one. */
  service?: { key: string; ipFamilies: readonly IPFamily[] };
  /** The Service's sharing key and ports, when it may share an address. */
  sharing?: Sharing;
  /**
   * Addresses of a pool already shared under a key, with the ports their holders use: a hint
   * as `taken` is (a join the claim then refuses makes the caller decide again).
   */
  shared?: (pool: string, key: string) => readonly SharedAddress[];
  /** The Service as pool scopes see it (lib/core/pool-scope.ts); absent for an operator's reservation. */
  requester?: Requester;
  /**
   * The held address the router itself holds (program refused it: `AddressInUseByRouter`),
   * for an allocation that did not ask for it: another address is chosen, never this one;
   * when none is free, the held one is kept (and stays refused) rather than given up for nothing.
   */
  routerHeld?: string;
  /**
   * The addresses the allocation's Service asks for by name (`addressesAskedFor`): its own
   * explicit allocations are to get them, so a pool or family search skips them (the Service's
   * load-balancer search would otherwise take its own SNAT address, say).
   */
  askedFor?: readonly string[];
  /**
   * Whether a held address among `askedFor` is given up by a pool or family allocation: set by a
   * caller that paired the allocation with its Service's wants, so that it knows the explicit
   * want for that address is another allocation's (an allocation found holding an address its
   * Service now pins is paired with that want instead, and keeps it).
   */
  yieldAskedFor?: boolean;
}

/** An address shared under a key, with every port its holders use. */
export interface SharedAddress {
  address: string;
  ports: Sharing['ports'];
}

const fail = (reason: FailureReason, message: string): Decision => ({ ok: false, reason, message });

const deleting = (pool: PoolView): boolean => pool.pool.metadata.deletionTimestamp !== undefined;

/**
 * Whether the held address still answers the allocation's spec (else it is given back). An
 * address a shrunk pool no longer contains is kept (the pool reports it, see
 * `AddressesOutsidePool`); one whose pool is gone is not, nor a special-purpose address (held
 * from an earlier version: no client could ever reach it).
 */
function heldFits(input: AssignInput, held: Holding): boolean {
  const { spec } = input.allocation;
  const pool = input.pools.find((v) => v.name === held.poolName);
  const q = parseAddress(held.address);
  if (!pool || !q.ok || q.family !== pool.family || scopeRefusal(pool.pool, input.requester)) return false;
  if (specialPurposeBlock(q.family, q.value)) return false;
  // an address its Service asks for by name is its explicit allocation's, not this one's
  if (!spec.address && input.yieldAskedFor === true && askedIn(input, pool).has(q.value)) return false;
  if (spec.poolName) return held.poolName === spec.poolName;
  if (spec.ipFamily) return pool.family === spec.ipFamily;
  return sameAddress(spec.address, held.address);
}

/**
 * Where the search for an address begins in a pool: a hash of the Service's namespace, name
 * and family (so a Service deleted and created again gets its address back while it is free,
 * whatever its new uid), or of the allocation's name for an operator's reservation.
 */
export function seedOf(allocation: IPAllocation, family: IPFamily, service: { key: string } | undefined): string {
  return service ? `${service.key}/${family}` : allocation.metadata.name;
}

/**
 * What the address a Service with an allow-shared-ip key tries first in a pool (when free, and
 * no address shared under its key fits) is hashed from: its key and family. Services of one key
 * decided at the same moment, by instances that cannot see each other's claims yet, then want
 * the same address, and the later joins the claim the first made (DNS over TCP and UDP applied
 * together lands on one address). When it is taken, they walk on from it together, unless an
 * address of the key already clashes with the Service's ports: then the Service walks from its
 * own start (seedOf), so many Services of one key whose ports clash never queue on one walk.
 */
export function sharedSeedOf(key: string, family: IPFamily): string {
  return `allow-shared-ip:${key}/${family}`;
}

/** The address a Service with a sharing key tries first in the pool. */
function keyStartIn(input: Pick<AssignInput, 'service' | 'sharing'>, pool: PoolView): bigint | undefined {
  return input.service && input.sharing ? startFor(sharedSeedOf(input.sharing.key, pool.family), pool.owned) : undefined;
}

/**
 * The address this allocation prefers in a pool: its key's first try, else where its search
 * starts — or, when that is the router's own address it is moving off, the next one after it.
 */
export function preferredAddress(input: Pick<AssignInput, 'allocation' | 'service' | 'sharing' | 'routerHeld' | 'askedFor'>, pool: PoolView): string | undefined {
  const start = keyStartIn(input, pool) ?? startFor(seedOf(input.allocation, pool.family, input.service), pool.owned);
  if (start === undefined) return undefined;
  const avoided = avoidedIn(input, pool);
  const v = avoided.has(start) ? chooseFrom(pool.owned, avoided, start) : start;
  return v === undefined ? undefined : formatAddress(pool.family, v);
}

/**
 * An address of the pool already shared under the Service's key whose holders use none of its
 * ports: joining one is preferred over taking a fresh address (as MetalLB does). The lowest
 * such address, so every instance makes the same choice.
 */
function joinableIn(input: AssignInput, pool: PoolView, avoided: Taken): string | undefined {
  const { sharing, shared } = input;
  if (!sharing || !shared) return undefined;
  const fits = shared(pool.name, sharing.key).flatMap((c) => {
    const p = parseAddress(c.address);
    return p.ok && p.family === pool.family && !avoided.has(p.value) && contains(pool.owned, p.value) && overlappingPorts(c.ports, sharing.ports).length === 0 ? [p.value] : [];
  });
  const lowest = fits.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0];
  return lowest === undefined ? undefined : formatAddress(pool.family, lowest);
}

/** Whether an address of the pool shared under the Service's key has a holder using one of its ports. */
function keyClashesIn(input: AssignInput, pool: PoolView): boolean {
  const { sharing, shared } = input;
  return sharing !== undefined && shared !== undefined && shared(pool.name, sharing.key).some((c) => overlappingPorts(c.ports, sharing.ports).length > 0);
}

/** The router-held address's value in this pool's family, if it is one (see AssignInput.routerHeld). */
function routerHeldIn(input: Pick<AssignInput, 'routerHeld'>, pool: PoolView): bigint | undefined {
  const p = input.routerHeld === undefined ? undefined : parseAddress(input.routerHeld);
  return p?.ok && p.family === pool.family ? p.value : undefined;
}

/** The addresses of this pool's family the Service asks for by name (see AssignInput.askedFor). */
function askedIn(input: Pick<AssignInput, 'askedFor'>, pool: PoolView): ReadonlySet<bigint> {
  return new Set((input.askedFor ?? []).flatMap((text) => {
    const p = parseAddress(text);
    return p.ok && p.family === pool.family ? [p.value] : [];
  }));
}

/** What a search in this pool never picks: the router's own address it moves off, and the addresses its Service asks for by name. */
function avoidedIn(input: Pick<AssignInput, 'routerHeld' | 'askedFor'>, pool: PoolView): Taken {
  const routerHeld = routerHeldIn(input, pool);
  const asked = askedIn(input, pool);
  return { has: (v) => v === routerHeld || asked.has(v) };
}

function chooseIn(input: AssignInput, pool: PoolView): string | undefined {
  const avoided = avoidedIn(input, pool);
  const join = joinableIn(input, pool, avoided);
  if (join !== undefined) return join;
  const known = input.taken(pool.family);
  const taken: Taken = { has: (v) => avoided.has(v) || known.has(v) };
  const keyStart = keyStartIn(input, pool);
  if (keyStart !== undefined && !taken.has(keyStart)) return formatAddress(pool.family, keyStart);
  // the key's own address is taken (by another Service, or it is the router's): its Services
  // walk on from it together, not each from its own start, so those decided at once still land
  // on one address (the later joins the claim the first made) — unless an address of the key
  // already clashes with this Service's ports: then it walks from its own start, so Services
  // of one key whose ports clash never queue on one walk
  const together = keyStart !== undefined && !keyClashesIn(input, pool);
  const start = together ? keyStart : startFor(seedOf(input.allocation, pool.family, input.service), pool.owned);
  if (start === undefined) return undefined;
  const v = chooseFrom(pool.owned, taken, start);
  return v === undefined ? undefined : formatAddress(pool.family, v);
}

/** The message of an explicit address someone else holds. */
export function alreadyUsed(address: string, pool: string, holder: string, refusal?: string): Decision {
  const why = refusal === undefined ? '' : ` It cannot be shared: ${refusal}.`;
  return fail('AddressAlreadyUsed', `Address ${address} in pool ${pool} is already used by IPAllocation ${holder}.${why}`);
}

function assignExplicit(input: AssignInput, text: string): Decision {
  const p = parseAddress(text);
  if (!p.ok) return fail('AddressInvalid', `Address "${text}" is not a valid IP address: ${p.message}.`);
  const address = formatAddress(p.family, p.value);
  const special = specialPurposeBlock(p.family, p.value);
  if (special) return fail('AddressInvalid', `Address ${address} is ${special.kind} (${special.cidr}): it can never be a load-balancer address.`);
  const pool = input.pools.find((v) => v.family === p.family && contains(v.owned, p.value));
  if (!pool) return fail('AddressNotInPool', `Address ${address} is not in any IPPool.`);
  if (deleting(pool)) return fail('AddressNotInPool', `Address ${address} is in pool ${pool.name}, which is being deleted and hands out no new address.`);
  const refused = scopeRefusal(pool.pool, input.requester, address);
  if (refused) return fail('PoolScopeMismatch', refused);
  return { ok: true, pool: pool.name, address, held: false };
}

/**
 * An explicit address or a named pool of a family the Service does not have: refused before
 * anything else, even an address it holds (the address could never be published).
 */
function familyMismatch(input: AssignInput): Decision | undefined {
  const svc = input.service;
  if (!svc || svc.ipFamilies.length === 0) return undefined;
  const families = svc.ipFamilies.join(', ');
  const { spec } = input.allocation;
  if (spec.address) {
    const p = parseAddress(spec.address);
    if (p.ok && !svc.ipFamilies.includes(p.family)) {
      return fail('AddressIPFamilyMismatch', `Address ${formatAddress(p.family, p.value)} is ${p.family}, but Service ${svc.key} has ipFamilies ${families}.`);
    }
  }
  const pool = spec.poolName ? input.pools.find((v) => v.name === spec.poolName) : undefined;
  if (pool && !svc.ipFamilies.includes(pool.family)) {
    return fail('PoolIPFamilyMismatch', `Pool ${pool.name} is ${pool.family}, but Service ${svc.key} has ipFamilies ${families}.`);
  }
  return undefined;
}

function assignFromPool(input: AssignInput, name: string): Decision {
  const pool = input.pools.find((v) => v.name === name);
  if (!pool) return fail('PoolNotFound', `Pool ${name} does not exist.`);
  if (deleting(pool)) return fail('PoolNotFound', `Pool ${name} is being deleted and hands out no new address.`);
  const refused = scopeRefusal(pool.pool, input.requester);
  if (refused) return fail('PoolScopeMismatch', refused);
  const address = chooseIn(input, pool);
  if (!address) return fail('PoolExhausted', exhaustedMessage(pool));
  return { ok: true, pool: pool.name, address, held: false };
}

function exhaustedMessage(pool: PoolView): string {
  if (pool.errors.length > 0) return `Pool ${pool.name} has no usable address: ${describeEntryErrors(pool.errors)}.`;
  if (isEmpty(pool.owned)) return `Pool ${pool.name} hands out no address: every one belongs to ${olderPools(pool)}.`;
  return `Pool ${pool.name} has no free address.`;
}

/** `a`, `a and b`, `a, b and c`. */
function joinNames(names: readonly string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1] ?? ''}`;
}

function assignFromFamily(input: AssignInput, family: IPFamily): Decision {
  const eligible = input.pools
    .filter((v) => v.family === family && v.pool.spec.autoAssign && !deleting(v))
    .sort((a, b) => olderFirst(
      { name: a.name, creationTimestamp: a.pool.metadata.creationTimestamp, set: a.owned },
      { name: b.name, creationTimestamp: b.pool.metadata.creationTimestamp, set: b.owned }));
  const candidates = autoAssignOrder(eligible, input.requester);
  if (candidates.length === 0) {
    const scoped = eligible.length > 0 ? ` that serves ${input.requester ? `Service ${input.requester.key}` : 'an allocation without a Service'} (the others are scoped to other Services)` : '';
    const going = eligible.length > 0 ? [] : input.pools.filter((v) => v.family === family && v.pool.spec.autoAssign && deleting(v)).map((v) => v.name).sort();
    // `kubectl get ippools` still lists them, auto-assign: say why they do not count
    if (going.length > 0) return fail('PoolExhausted', `No auto-assign ${family} pool hands out new addresses: ${joinNames(going)} ${going.length === 1 ? 'is' : 'are'} being deleted.`);
    return fail('PoolExhausted', `No auto-assign ${family} pool exists${scoped}.`);
  }
  for (const pool of candidates) {
    const address = chooseIn(input, pool);
    if (address) return { ok: true, pool: pool.name, address, held: false };
  }
  return fail('PoolExhausted', `No auto-assign ${family} pool has a free address (tried ${candidates.map((c) => c.name).join(', ')}).`);
}

/**
 * Which address an allocation gets, or why it gets none. Pure: the same inputs give the same
 * answer in every function instance. The address it holds wins while it fits its spec, so
 * re-invocation, recovery after a crash and upgrades keep the address.
 */
export function assignAddress(input: AssignInput): Decision {
  const mismatch = familyMismatch(input);
  if (mismatch) return mismatch;
  const { held } = input;
  const { spec } = input.allocation;
  if (held && heldFits(input, held)) {
    const keep: Decision = { ok: true, pool: held.poolName, address: held.address, held: true };
    if (spec.address || !sameAddress(input.routerHeld, held.address)) return keep;
    const other = chooseAnew(input);
    return other.ok ? other : keep;
  }
  return chooseAnew(input);
}

function chooseAnew(input: AssignInput): Decision {
  const { spec } = input.allocation;
  if (spec.address) return assignExplicit(input, spec.address);
  if (spec.poolName) return assignFromPool(input, spec.poolName);
  if (spec.ipFamily) return assignFromFamily(input, spec.ipFamily);
  return fail('AddressInvalid', 'The allocation names no address, pool or family.');
}

function sameAddress(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const p = parseAddress(a);
  const q = parseAddress(b);
  return p.ok && q.ok && p.family === q.family && p.value === q.value;
}
