/**
 * Pool address entries (`IPPool.spec.addresses`) → one AddressSet, with every problem
 * reported as a value that names the entry, so the admission webhook and the pool's
 * conditions can show all mistakes at once.
 */
import { familyBits, maxAddress, parseAddress, type IPFamily } from './address.js';
import { addressSet, describeSet, intersect, isEmpty, subtract, type AddressRange, type AddressSet } from './set.js';
import { specialPurposeSet } from './special.js';

/** Machine-readable kind of a pool entry problem; `message` is the readable sentence. */
export type PoolEntryCode =
  | 'EmptyEntry'
  | 'InvalidAddress'
  | 'InvalidRange'
  | 'InvalidPrefixLength'
  | 'ReversedRange'
  | 'MixedFamilies'
  | 'FamilyMismatch'
  | 'NothingLeftAfterAvoidBuggyIPs'
  | 'TooLargeForAvoidBuggyIPs'
  | 'NoAddressesLeft';

export interface PoolEntryError {
  readonly code: PoolEntryCode;
  /** Position in `spec.addresses`; `NO_ADDRESSES_LEFT` for a problem of the whole pool. */
  readonly index: number;
  readonly entry: string;
  readonly message: string;
}

export type ParsePoolResult =
  | {
    readonly ok: true;
    /** What the pool hands out. */
    readonly set: AddressSet;
    /** The special-purpose addresses (lib/ip/special.ts) the entries list, left out of `set`. */
    readonly specialPurpose: AddressSet;
  }
  | { readonly ok: false; readonly errors: readonly PoolEntryError[] };

/** The `index` of the error `validatePoolAddresses` reports for a pool left with no addresses. */
export const NO_ADDRESSES_LEFT = -1;

interface Span {
  readonly ok: true;
  readonly family: IPFamily;
  readonly start: bigint;
  readonly end: bigint;
  readonly cidr: boolean;
}
type Failure = { readonly ok: false; readonly code: PoolEntryCode; readonly message: string };
type SpanResult = Span | Failure;

interface ParsedEntry {
  readonly ok: true;
  readonly exclude: boolean;
  /** The entry without `!` and surrounding spaces, for messages. */
  readonly body: string;
  readonly span: Span;
  readonly ranges: readonly AddressRange[];
}
type EntryResult = ParsedEntry | Failure;

/**
 * Parses a pool's entries. Each entry is one of
 * - a CIDR: `192.0.2.0/24`, `2001:db8::/64` (host bits are ignored: `10.0.0.5/24` means
 *   `10.0.0.0/24`, as with Go's `net.ParseCIDR`);
 * - a single address: `192.0.2.10`;
 * - a range `start-end`, inclusive, spaces allowed around the parts: `10.0.0.1 - 10.0.0.9`;
 * - any of these prefixed with `!` (spaces allowed after it): an exclusion.
 * Exclusions win over inclusions wherever they appear in the list. Every entry must be of
 * the pool's family.
 *
 * avoidBuggyIPs (when true) applies to inclusion CIDR entries only; explicit ranges,
 * single addresses and exclusions are never changed by it:
 * - IPv4: every address of the CIDR whose last octet is 0 or 255 is skipped, whatever the
 *   prefix length. A /24 keeps .1-.254; a /16 loses 512 addresses; a /31 such as
 *   10.0.0.0/31 keeps only 10.0.0.1; 10.0.0.0/32 and 10.0.0.255/32 keep nothing.
 * - IPv6: the first and the last address of the CIDR are skipped. A /120 keeps 254
 *   addresses; a /127 and a /128 keep nothing.
 * A CIDR that keeps nothing is an error, since it can only be a mistake. So is giving the
 * IPv4 rule more than a /8 in total (see `AVOID_BUGGY_IPV4_LIMIT`).
 *
 * Special-purpose addresses (loopback, multicast and the like, see lib/ip/special.ts) are
 * never in the set, whatever the entries and avoidBuggyIPs say: no client could reach them.
 *
 * A pool whose entries are all valid but whose exclusions remove everything parses to an
 * empty set here (the allocator then reports it exhausted); `validatePoolAddresses` is the
 * variant that rejects it.
 */
export function parsePoolAddresses(
  family: IPFamily,
  entries: readonly string[],
  avoidBuggyIPs: boolean,
): ParsePoolResult {
  const errors: PoolEntryError[] = [];
  const included: AddressRange[] = [];
  const excluded: AddressRange[] = [];
  let budget = AVOID_BUGGY_IPV4_LIMIT;
  for (const [index, entry] of entries.entries()) {
    const parsed = parseEntry(entry, family);
    const ruleApplies = parsed.ok && avoidBuggyIPs && parsed.span.cidr && !parsed.exclude;
    const result = ruleApplies ? avoidBuggy(parsed, budget) : parsed;
    if (!result.ok) {
      errors.push({ code: result.code, index, entry, message: result.message });
      continue;
    }
    if (ruleApplies && family === 'IPv4') budget -= size(result.span);
    for (const range of result.ranges) (result.exclude ? excluded : included).push(range);
  }
  if (errors.length > 0) return { ok: false, errors };
  const listed = subtract(addressSet(family, included), addressSet(family, excluded));
  const special = specialPurposeSet(family);
  return { ok: true, set: subtract(listed, special), specialPurpose: intersect(listed, special) };
}

/**
 * `parsePoolAddresses`, plus one more error when the entries are valid but nothing is left
 * after exclusions: `{code: 'NoAddressesLeft', index: NO_ADDRESSES_LEFT, entry: '',
 * message: 'no addresses left after exclusions'}` (or 'the pool lists no addresses' for an
 * empty list). For the admission webhook, where an empty pool is almost certainly a typo.
 */
export function validatePoolAddresses(
  family: IPFamily,
  entries: readonly string[],
  avoidBuggyIPs: boolean,
): ParsePoolResult {
  const result = parsePoolAddresses(family, entries, avoidBuggyIPs);
  if (!result.ok || !isEmpty(result.set)) return result;
  const message = entries.length === 0 ? 'the pool lists no addresses'
    : !isEmpty(result.specialPurpose) ? `no addresses left: every address the pool lists is special-purpose (${describeSet(result.specialPurpose)}), which MikroLB never hands out`
      : 'no addresses left after exclusions';
  return { ok: false, errors: [{ code: 'NoAddressesLeft', index: NO_ADDRESSES_LEFT, entry: '', message }] };
}

function parseEntry(entry: string, family: IPFamily): EntryResult {
  const text = entry.trim();
  if (text === '') return fail('EmptyEntry', 'empty entry');
  const exclude = text.startsWith('!');
  const body = exclude ? text.slice(1).trim() : text;
  if (body === '') return fail('EmptyEntry', 'exclusion "!" names no address');
  const span = parseSpan(body);
  if (!span.ok) return span;
  if (span.family !== family) {
    return fail('FamilyMismatch', `${body} is ${span.family}, but the pool's ipFamily is ${family}`);
  }
  return { ok: true, exclude, body, span, ranges: [span] };
}

/**
 * The IPv4 rule yields one range per /24, so its cost grows with the CIDR: a /8 is 65,536
 * ranges and ~60 ms, a /0 would be 16.7 million ranges, seconds and gigabytes. Pools are
 * parsed on every invocation and by the admission webhook, so the IPv4 CIDRs one pool
 * hands to the rule may cover at most a /8 in total; anything larger is refused with advice.
 */
export const AVOID_BUGGY_IPV4_LIMIT = 1n << 24n;

/** The avoidBuggyIPs step for an inclusion CIDR; `budget` is what is left of the IPv4 limit. */
function avoidBuggy(parsed: ParsedEntry, budget: bigint): EntryResult {
  const { span, body } = parsed;
  if (span.family === 'IPv4' && size(span) > budget) {
    return fail('TooLargeForAvoidBuggyIPs', `${body} ${TOO_LARGE}`);
  }
  const ranges = withoutBuggyAddresses(span);
  if (ranges.length === 0) return fail('NothingLeftAfterAvoidBuggyIPs', `${body} ${NOTHING_USABLE[span.family]}`);
  return { ...parsed, ranges };
}

const TOO_LARGE =
  'is too large for avoidBuggyIPs: the IPv4 CIDRs of one pool may cover at most a /8 in total ' +
  '(list the space as ranges, which avoidBuggyIPs leaves alone, or set avoidBuggyIPs to false)';

const NOTHING_USABLE: Readonly<Record<IPFamily, string>> = {
  IPv4: 'has no usable addresses with avoidBuggyIPs (it skips IPv4 addresses ending in .0 or .255)',
  IPv6: 'has no usable addresses with avoidBuggyIPs (it skips the first and last address of an IPv6 CIDR)',
};

/** One entry without its `!`: a range, a CIDR or a single address. */
function parseSpan(body: string): SpanResult {
  if (body.includes('-')) return parseRange(body);
  if (body.includes('/')) return parseCidr(body);
  const address = parseAddress(body);
  if (!address.ok) return invalidAddress(address.message);
  return { ok: true, family: address.family, start: address.value, end: address.value, cidr: false };
}

function parseRange(body: string): SpanResult {
  const parts = body.split('-').map((part) => part.trim());
  const [first = '', last = ''] = parts;
  if (parts.length !== 2) return fail('InvalidRange', `"${body}" is not a valid range (expected start-end)`);
  if (first === '') return fail('InvalidRange', `range "${body}" has no start address`);
  if (last === '') return fail('InvalidRange', `range "${body}" has no end address`);
  const start = parseAddress(first);
  if (!start.ok) return invalidAddress(start.message);
  const end = parseAddress(last);
  if (!end.ok) return invalidAddress(end.message);
  if (start.family !== end.family) {
    return fail('MixedFamilies', `range ${first}-${last} mixes ${start.family} and ${end.family}`);
  }
  if (start.value > end.value) {
    return fail('ReversedRange', `range ${first}-${last} is reversed: its start is after its end`);
  }
  return { ok: true, family: start.family, start: start.value, end: end.value, cidr: false };
}

function parseCidr(body: string): SpanResult {
  const slash = body.indexOf('/');
  const address = parseAddress(body.slice(0, slash).trim());
  if (!address.ok) return invalidAddress(address.message);
  const prefixText = body.slice(slash + 1).trim();
  const bits = familyBits(address.family);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefix >= 0 && prefix <= bits)) {
    const message = `prefix length "/${prefixText}" is not valid for ${address.family} (use /0 to /${bits})`;
    return fail('InvalidPrefixLength', message);
  }
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const start = address.value & (maxAddress(address.family) ^ hostMask);
  return { ok: true, family: address.family, start, end: start | hostMask, cidr: true };
}

/** The avoidBuggyIPs rule (see `parsePoolAddresses`) applied to one CIDR. */
function withoutBuggyAddresses(cidr: Span): AddressRange[] {
  if (cidr.family === 'IPv6') {
    return cidr.end - cidr.start >= 2n ? [{ start: cidr.start + 1n, end: cidr.end - 1n }] : [];
  }
  // One range per /24 block (.1-.254), clipped to the CIDR: 65,536 ranges for a /8.
  const ranges: AddressRange[] = [];
  for (let block = cidr.start & ~0xffn; block <= cidr.end; block += 0x100n) {
    const start = cidr.start > block + 1n ? cidr.start : block + 1n;
    const end = cidr.end < block + 254n ? cidr.end : block + 254n;
    if (start <= end) ranges.push({ start, end });
  }
  return ranges;
}

function size(span: Span): bigint {
  return span.end - span.start + 1n;
}

function invalidAddress(message: string): Failure {
  return fail('InvalidAddress', message);
}

function fail(code: PoolEntryCode, message: string): Failure {
  return { ok: false, code, message };
}
