/**
 * How a port's connections are spread over its ready endpoints, as dst-nat slots: which
 * endpoint each rule targets, the matcher that picks the rule's share, and the rule's key.
 *
 * - Per connection (the default): `nth` slots, an even split of connections (see LAYOUT.md).
 * - Per client (`sessionAffinity: ClientIP`): `per-connection-classifier=src-address:M/b`, one
 *   rule per bucket b of M. Every connection of one client address hashes to the same bucket,
 *   so it reaches the same endpoint; buckets are shared out evenly, so clients spread evenly.
 */
export interface NatSlot {
  /** The endpoint, as the router prints it. */
  address: string;
  /** The rule's part of the comment key after `dnat:<proto>/<port>:`. */
  key: string;
  /** The matcher choosing the rule's share of connections; none for the rule that takes the rest. */
  match: Readonly<Record<string, string>>;
}

/**
 * nth slots N-1 … 0: nth counts only the connections that reach its rule, so slot k takes
 * `nth=k+1,1` of what the slots above it left (1/N each) and slot 0 takes the rest.
 */
export function connectionSlots(endpoints: readonly string[]): NatSlot[] {
  const none: Readonly<Record<string, string>> = {};
  return endpoints.map((address, slot): NatSlot => ({ address, key: String(slot), match: slot > 0 ? { nth: `${slot + 1},1` } : none })).reverse();
}

const BASE_BUCKETS = 16;
const BUCKETS_PER_ENDPOINT = 8;
const MAX_BUCKETS = 256;

/**
 * The bucket count M for N endpoints: a power of two, at least 8 per endpoint (so the share of
 * any endpoint is within 1/8 of even) up to 256 buckets, and never fewer than N. Powers of two
 * nest: a client's bucket modulo 2M is one of two halves of its bucket modulo M, so when N
 * crosses a threshold and M doubles, a bucket's halves can stay with the bucket's endpoint.
 */
export function bucketCount(endpoints: number): number {
  if (endpoints <= 1) return 1;
  let buckets = BASE_BUCKETS;
  while (buckets < BUCKETS_PER_ENDPOINT * endpoints && buckets < MAX_BUCKETS) buckets *= 2;
  while (buckets < endpoints) buckets *= 2;
  return buckets;
}

/** FNV-1a with a murmur finaliser: a well-mixed 32-bit hash of a short string. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * How much endpoint e wants bucket b of M: its rendezvous scores for b's ancestors (b mod 16,
 * b mod 32, …, b), compared in that order, so both halves of a bucket want what it wanted.
 */
function preference(bucket: number, buckets: number, endpoint: string): number[] {
  const out: number[] = [];
  for (let mod = Math.min(BASE_BUCKETS, buckets); mod <= buckets; mod *= 2) out.push(hash(`${bucket % mod}/${mod}|${endpoint}`));
  return out;
}

function compareDescending(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (b[i] ?? 0) - (a[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The endpoint of each bucket: rendezvous hashing with bounded loads. Every endpoint gets
 * ⌊M/N⌋ or ⌈M/N⌉ buckets (the larger quota to the endpoints that hash highest); pairs are taken
 * in order of preference, a bucket going to the endpoint that wants it most and still has room.
 * Stateless and order-independent, so the same endpoints always give the same table, and a
 * change of the endpoint set moves mostly the buckets of the endpoints that came or went:
 * measured over 2 to 33 endpoints, removing one moves about 1.6 times the clients that had to
 * move (those of the endpoint that went), adding one about 1.8 times (those the new one takes);
 * a plain modulus over N endpoints would move nearly all of them.
 */
export function assignBuckets(endpoints: readonly string[], buckets: number): string[] {
  const sorted = [...new Set(endpoints)].sort();
  const base = Math.floor(buckets / sorted.length);
  const extra = buckets % sorted.length;
  const byHash = [...sorted].sort((a, b) => hash(b) - hash(a) || a.localeCompare(b));
  const room = new Map(byHash.map((endpoint, rank) => [endpoint, base + (rank < extra ? 1 : 0)]));
  const pairs = sorted.flatMap((endpoint) => Array.from({ length: buckets }, (_, bucket) => ({ bucket, endpoint, want: preference(bucket, buckets, endpoint) })));
  pairs.sort((a, b) => compareDescending(a.want, b.want) || a.bucket - b.bucket || a.endpoint.localeCompare(b.endpoint));
  const owner: (string | undefined)[] = Array.from({ length: buckets }, () => undefined);
  for (const { bucket, endpoint } of pairs) {
    const left = room.get(endpoint) ?? 0;
    if (owner[bucket] !== undefined || left === 0) continue;
    owner[bucket] = endpoint;
    room.set(endpoint, left - 1);
  }
  return owner.map((endpoint) => endpoint ?? '');
}

/** Client-affinity slots: one rule per bucket (a single rule without matcher for one endpoint). */
export function clientSlots(endpoints: readonly string[]): NatSlot[] {
  if (endpoints.length <= 1) return connectionSlots(endpoints);
  const buckets = bucketCount(endpoints.length);
  return assignBuckets(endpoints, buckets).map((address, bucket) => ({
    address, key: `c${bucket}`, match: { 'per-connection-classifier': `src-address:${buckets}/${bucket}` },
  }));
}
