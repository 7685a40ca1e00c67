/**
 * The address engine: pure functions over address sets (no I/O, no Kubernetes).
 */
export { IP_FAMILIES, familyBits, formatAddress, isDottedQuad, maxAddress, parseAddress } from './address.js';
export type { Address, IPFamily, ParseAddressResult } from './address.js';
export {
  addressSet,
  contains,
  count,
  describeSet,
  emptySet,
  formatRange,
  indexOf,
  intersect,
  isEmpty,
  normalise,
  nth,
  overlap,
  subtract,
  toRanges,
  union,
} from './set.js';
export type { AddressRange, AddressSet } from './set.js';
export { AVOID_BUGGY_IPV4_LIMIT, NO_ADDRESSES_LEFT, parsePoolAddresses, validatePoolAddresses } from './parse.js';
export type { ParsePoolResult, PoolEntryCode, PoolEntryError } from './parse.js';
export { choose, chooseFrom, startFor, TakenAddresses, type Taken } from './choose.js';
export { addressName, parseAddressName } from './name.js';
export { humanCount } from './human.js';
export { olderFirst, resolveOwnership } from './ownership.js';
export type { PoolAddresses, PoolConflict, PoolOwnership } from './ownership.js';
export { describeSpecialPurpose, specialPurposeBlock, specialPurposeSet } from './special.js';
export type { SpecialBlock } from './special.js';
export { unusableTarget } from './unicast.js';
export type { UnusableKind } from './unicast.js';
