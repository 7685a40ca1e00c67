import type { IPFamily } from './address.js';

/** Why an address cannot be a load-balancing target behind the router. */
export type UnusableKind = 'unspecified' | 'loopback' | 'multicast' | 'link-local' | 'broadcast';

interface Block {
  prefix: bigint;
  bits: number;
  kind: UnusableKind;
}

const v4 = (a: number, b: number, c: number, d: number): bigint => BigInt(((a << 24) >>> 0) + (b << 16) + (c << 8) + d);

const IPV4: readonly Block[] = [
  { prefix: v4(0, 0, 0, 0), bits: 32, kind: 'unspecified' },
  { prefix: v4(255, 255, 255, 255), bits: 32, kind: 'broadcast' },
  { prefix: v4(127, 0, 0, 0), bits: 8, kind: 'loopback' },
  { prefix: v4(169, 254, 0, 0), bits: 16, kind: 'link-local' },
  { prefix: v4(224, 0, 0, 0), bits: 4, kind: 'multicast' },
];

const IPV6: readonly Block[] = [
  { prefix: 0n, bits: 128, kind: 'unspecified' },
  { prefix: 1n, bits: 128, kind: 'loopback' },
  { prefix: 0xfe80n << 112n, bits: 10, kind: 'link-local' },
  { prefix: 0xffn << 120n, bits: 8, kind: 'multicast' },
];

const MAPPED = 0xffffn << 32n;

function within(value: bigint, block: Block, width: number): boolean {
  const shift = BigInt(width - block.bits);
  return value >> shift === block.prefix >> shift;
}

/**
 * Why an address is not a unicast host the router can forward to (an EndpointSlice may list
 * anything), or undefined for a usable one. IPv4-mapped IPv6 addresses are judged as IPv4.
 */
export function unusableTarget(family: IPFamily, value: bigint): UnusableKind | undefined {
  if (family === 'IPv6' && value >> 32n === MAPPED >> 32n) return unusableTarget('IPv4', value & 0xffffffffn);
  const [blocks, width] = family === 'IPv4' ? [IPV4, 32] : [IPV6, 128];
  return blocks.find((b) => within(value, b, width))?.kind;
}
