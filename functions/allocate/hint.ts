import type { Holding, SharedAddress } from '../../lib/core/assign.js';
import { holdersOf } from '../../lib/core/sharing.js';
import { formatAddress, parseAddress, parseAddressName, TakenAddresses, type IPFamily, type Taken } from '../../lib/ip/index.js';
import type { KubePort } from '../../lib/k8s/port.js';
import { misnamed } from '../../lib/k8s/claims.js';
import { listClaims } from '../../lib/k8s/typed.js';
import { messageOf } from '../../lib/errors.js';
import { shareRuns } from '../../lib/share-runs.js';
import type { Logger } from '../../lib/log/logger.js';

/** After a failed list, the hint waits this long before listing again. */
const REFRESH_PAUSE_MS = 5_000;

/**
 * What a warm allocate instance remembers of the cluster's claims, to choose an address
 * without listing every claim on every invocation. Only a hint: every claim is still a
 * create-if-absent, so an address the hint thinks free but is taken costs one failed create
 * (and is then remembered), and an exhausted pool is only reported after a fresh list.
 */
export class ClaimsHint {
  private taken = { IPv4: new TakenAddresses(), IPv6: new TakenAddresses() };
  private byAllocation = new Map<string, Holding>();
  /** Shared addresses by pool and key, with the ports their holders use. */
  private shared = new Map<string, Map<string, SharedAddress>>();
  /**
   * The group (`shared`'s key) each shared address is in: an address has one claim, so one
   * group. Taking an address out of its group walked every group: O(groups) per claim noted,
   * O(N²) for a burst of N claims among N shared addresses.
   */
  private groupOf = new Map<string, string>();
  /**
   * Claims that do not match our schema, or name another address than their name, by name,
   * with what is wrong: their address counts as taken (by whoever made them), so no choice
   * runs into them again and again, and the resync reports them.
   */
  private unreadable = new Map<string, string>();
  private loadedAt: number | undefined;
  private failedAt: number | undefined;
  /** When the latest load was asked for: what a list that starts for it records as its time. */
  private askedAt = 0;
  /** Lists shared by concurrent loads (see load). */
  private readonly lists = shareRuns((kube: KubePort) => this.replaceFrom(kube, this.askedAt));

  constructor(private readonly maxAgeMs: number) {}

  /** The addresses of a family known to be taken. */
  readonly takenOf = (family: IPFamily): Taken => this.taken[family];

  /** A claim the hint saw for an allocation (to be verified before it is trusted). */
  heldBy(allocationUID: string): Holding | undefined {
    return this.byAllocation.get(allocationUID);
  }

  /** Addresses of a pool shared under a key, as last seen. */
  readonly sharedIn = (pool: string, key: string): readonly SharedAddress[] => [...(this.shared.get(`${pool}\n${key}`)?.values() ?? [])];

  /**
   * Lists every claim when the hint is empty, older than its age limit, or `force`d; true when
   * a list ran for the call. Concurrent invocations share lists (with tens of thousands of
   * claims, each is megabytes): a stale hint waits for the list in flight; a forced load, which
   * must see what changed before it was asked for, shares the one list that starts after it.
   */
  async load(kube: KubePort, nowMs: number, force = false): Promise<boolean> {
    if (!force && this.loadedAt !== undefined && nowMs - this.loadedAt < this.maxAgeMs) return false;
    this.askedAt = Math.max(this.askedAt, nowMs);
    await this.lists(kube, !force);
    return true;
  }

  private async replaceFrom(kube: KubePort, nowMs: number): Promise<void> {
    const claims = await listClaims(kube);
    const taken = { IPv4: new TakenAddresses(), IPv6: new TakenAddresses() };
    this.byAllocation = new Map<string, Holding>();
    this.shared = new Map();
    this.groupOf = new Map();
    const unreadable = new Map(claims.invalid.map((bad) => [bad.name, bad.message]));
    for (const c of claims.items) {
      const p = parseAddress(c.spec.address);
      const foreign = misnamed(c);
      if (foreign !== undefined) unreadable.set(c.metadata.name, foreign);
      if (!p.ok || foreign !== undefined) continue;
      taken[p.family].add(p.value);
      this.index(c.spec);
    }
    for (const name of unreadable.keys()) {
      const a = parseAddressName(name);
      if (a) taken[a.family].add(a.value);
    }
    this.taken = taken;
    this.unreadable = unreadable;
    this.loadedAt = nowMs;
  }

  /**
   * `load` where the list is only an optimisation: a failed list (an API server slow to list
   * tens of thousands of claims, say) is logged and the choice goes on with what the hint
   * has — every claim is still create-if-absent — and is not tried again for a few seconds.
   */
  async refresh(kube: KubePort, nowMs: number, log: Logger, force = false): Promise<boolean> {
    if (this.failedAt !== undefined && nowMs - this.failedAt < REFRESH_PAUSE_MS) return false;
    try {
      const listed = await this.load(kube, nowMs, force);
      this.failedAt = undefined;
      return listed;
    } catch (e) {
      this.failedAt = nowMs;
      log.warn('Listing the address claims failed; choosing from what this instance knows', { error: messageOf(e) });
      return false;
    }
  }

  /**
   * An address seen taken (a create that found it held, one this instance made, or a claim
   * read): what the hint knew of its sharing is replaced by what the claim says.
   */
  noteTaken(h: Holding): void {
    const p = parseAddress(h.address);
    if (!p.ok) return;
    this.taken[p.family].add(p.value);
    this.unshare(h.address);
    this.index(h);
  }

  /** A claim found unreadable (see `unreadable`): its address is taken. */
  noteUnreadable(name: string, problem: string): void {
    const a = parseAddressName(name);
    if (!a) return;
    this.taken[a.family].add(a.value);
    this.unshare(formatAddress(a.family, a.value));
    this.unreadable.set(name, problem);
  }

  /** The claims last seen unreadable, by name, with what is wrong with each. */
  unreadableClaims(): ReadonlyMap<string, string> {
    return this.unreadable;
  }

  /** Every holder of a claim, and the claim among the shared ones when it has a key. */
  private index(h: Holding): void {
    for (const holder of holdersOf(h)) this.byAllocation.set(holder.allocationUID, h);
    if (h.sharingKey === undefined) return;
    const group = `${h.poolName}\n${h.sharingKey}`;
    const ports = holdersOf(h).flatMap((x) => x.ports);
    if (this.groupOf.get(h.address) !== group) this.unshare(h.address);
    this.shared.set(group, (this.shared.get(group) ?? new Map<string, SharedAddress>()).set(h.address, { address: h.address, ports }));
    this.groupOf.set(h.address, group);
  }

  /** Takes an address out of the shared group it is in, if any. */
  private unshare(address: string): void {
    const group = this.groupOf.get(address);
    if (group === undefined) return;
    this.shared.get(group)?.delete(address);
    this.groupOf.delete(address);
  }

  /** Whether the hint counts an address as taken. */
  isTaken(address: string): boolean {
    const p = parseAddress(address);
    return p.ok && this.taken[p.family].has(p.value);
  }

  /** Whether the hint shows the address shared under the key in the pool. */
  isShared(pool: string, key: string, address: string): boolean {
    return this.shared.get(`${pool}\n${key}`)?.has(address) ?? false;
  }

  /** An address found free after all (its claim is gone): neither taken nor shared. */
  forget(address: string): void {
    const p = parseAddress(address);
    if (!p.ok) return;
    this.taken[p.family].delete(p.value);
    this.unshare(address);
  }

  /** An address this instance freed. */
  noteFreed(h: Holding): void {
    const p = parseAddress(h.address);
    if (!p.ok) return;
    this.taken[p.family].delete(p.value);
    if (this.byAllocation.get(h.allocationUID)?.address === h.address) this.byAllocation.delete(h.allocationUID);
    if (h.sharingKey !== undefined && this.groupOf.get(h.address) === `${h.poolName}\n${h.sharingKey}`) this.unshare(h.address);
  }
}
