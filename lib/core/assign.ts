import { choose, contains, formatAddress, parseAddress, startFor, type IPFamily } from '../ip/index.js';
import { olderFirst } from '../ip/index.js';
import type { IPAllocation, LedgerEntry } from '../k8s/schemas.js';
import { ledgerValues, type PoolView } from './pools.js';

export type FailureReason =
  | 'AddressInvalid' | 'AddressAlreadyUsed' | 'AddressNotInPool'
  | 'PoolNotFound' | 'PoolIPFamilyMismatch' | 'PoolExhausted'
  /** An explicit address of a family the Service does not have (it could never be published). */
  | 'AddressIPFamilyMismatch';

export type Decision =
  | { ok: true; pool: string; address: string; /** already in the pool's ledger under this allocation's uid */ reserved: boolean }
  | { ok: false; reason: FailureReason; message: string };

export interface AssignInput {
  allocation: IPAllocation;
  /** Every pool, with its effective ledger (adopted where it had none). */
  pools: readonly PoolView[];
  ledgers: ReadonlyMap<string, readonly LedgerEntry[]>;
  /** spec.ipFamilies of the Service the allocation belongs to, when it has one. */
  service?: { key: string; ipFamilies: readonly IPFamily[] };
}

const fail = (reason: FailureReason, message: string): Decision => ({ ok: false, reason, message });

function ledgerOf(input: AssignInput, pool: string): readonly LedgerEntry[] {
  return input.ledgers.get(pool) ?? [];
}

/** The reservation this allocation already holds (by uid), if it still fits its spec. */
export function findReservation(input: AssignInput): { pool: PoolView; entry: LedgerEntry } | undefined {
  const uid = input.allocation.metadata.uid;
  for (const pool of input.pools) {
    const entry = ledgerOf(input, pool.name).find((e) => e.allocationUID === uid);
    if (entry) return { pool, entry };
  }
  return undefined;
}

function reservationFits(input: AssignInput, r: { pool: PoolView; entry: LedgerEntry }): boolean {
  const { spec } = input.allocation;
  if (spec.poolName) return r.pool.name === spec.poolName;
  if (spec.ipFamily) return r.pool.family === spec.ipFamily;
  const p = spec.address ? parseAddress(spec.address) : undefined;
  const q = parseAddress(r.entry.address);
  return p !== undefined && p.ok && q.ok && p.value === q.value && p.family === q.family;
}

/** Every address of the family held in any ledger (so no two pools ever hand out one address). */
function takenIn(input: AssignInput, family: IPFamily): bigint[] {
  return input.pools.filter((p) => p.family === family).flatMap((p) => ledgerValues(ledgerOf(input, p.name)));
}

function chooseIn(input: AssignInput, pool: PoolView): string | undefined {
  const start = startFor(input.allocation.metadata.name, pool.owned);
  if (start === undefined) return undefined;
  const v = choose(pool.owned, takenIn(input, pool.family), start);
  return v === undefined ? undefined : formatAddress(pool.family, v);
}

function assignExplicit(input: AssignInput, text: string): Decision {
  const p = parseAddress(text);
  if (!p.ok) return fail('AddressInvalid', `Address "${text}" is not a valid IP address: ${p.message}.`);
  const address = formatAddress(p.family, p.value);
  const pool = input.pools.find((v) => v.family === p.family && contains(v.owned, p.value));
  if (!pool) return fail('AddressNotInPool', `Address ${address} is not in any IPPool.`);
  const holder = input.pools.flatMap((v) => ledgerOf(input, v.name)).find((e) => {
    const q = parseAddress(e.address);
    return q.ok && q.family === p.family && q.value === p.value;
  });
  if (holder && holder.allocationUID !== input.allocation.metadata.uid) {
    return fail('AddressAlreadyUsed', `Address ${address} in pool ${pool.name} is already used by IPAllocation ${holder.allocationName}.`);
  }
  return { ok: true, pool: pool.name, address, reserved: false };
}

/**
 * An explicit address or a named pool of a family the Service does not have: refused before
 * anything else, even a reservation it holds (the address could never be published).
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

function decidePool(input: AssignInput, name: string): Decision {
  const pool = input.pools.find((v) => v.name === name);
  if (!pool) return fail('PoolNotFound', `Pool ${name} does not exist.`);
  const address = chooseIn(input, pool);
  if (!address) return fail('PoolExhausted', exhaustedMessage(pool));
  return { ok: true, pool: pool.name, address, reserved: false };
}

function exhaustedMessage(pool: PoolView): string {
  if (pool.errors.length > 0) return `Pool ${pool.name} has no usable address: ${pool.errors.map((e) => e.message).join('; ')}.`;
  return `Pool ${pool.name} has no free address.`;
}

function decideFamily(input: AssignInput, family: IPFamily): Decision {
  const candidates = input.pools
    .filter((v) => v.family === family && v.pool.spec.autoAssign)
    .sort((a, b) => olderFirst(
      { name: a.name, creationTimestamp: a.pool.metadata.creationTimestamp, set: a.owned },
      { name: b.name, creationTimestamp: b.pool.metadata.creationTimestamp, set: b.owned }));
  if (candidates.length === 0) return fail('PoolExhausted', `No auto-assign ${family} pool exists.`);
  for (const pool of candidates) {
    const address = chooseIn(input, pool);
    if (address) return { ok: true, pool: pool.name, address, reserved: false };
  }
  return fail('PoolExhausted', `No auto-assign ${family} pool has a free address (tried ${candidates.map((c) => c.name).join(', ')}).`);
}

/**
 * Which address an allocation gets, or why it gets none. Pure: the same objects give the
 * same answer in every function instance. An existing reservation (found by uid) wins, so
 * re-invocation and recovery after a crash keep the address.
 */
export function assignAddress(input: AssignInput): Decision {
  const mismatch = familyMismatch(input);
  if (mismatch) return mismatch;
  const held = findReservation(input);
  if (held && reservationFits(input, held)) return { ok: true, pool: held.pool.name, address: held.entry.address, reserved: true };
  const { spec } = input.allocation;
  if (spec.address) return assignExplicit(input, spec.address);
  if (spec.poolName) return decidePool(input, spec.poolName);
  if (spec.ipFamily) return decideFamily(input, spec.ipFamily);
  return fail('AddressInvalid', 'The allocation names no address, pool or family.');
}
