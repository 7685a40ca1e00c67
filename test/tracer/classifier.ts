import type { Family } from './addresses.js';
import type { Flow } from './flow.js';
import type { Classifier, ClassifierFields } from './values.js';

/**
 * per-connection-classifier hashes the chosen header fields and compares the hash modulo the
 * denominator with the remainder. RouterOS' own hash is not documented; any well-mixed
 * deterministic hash gives the same observable property: a connection always lands in the
 * same class, and many connections spread evenly over the classes.
 */
function addressWords(value: bigint, family: Family): number[] {
  const count = family === 'IPv4' ? 1 : 4;
  return Array.from({ length: count }, (_, i) => Number((value >> BigInt(32 * (count - 1 - i))) & 0xffffffffn));
}

function fieldWords(flow: Flow, fields: ClassifierFields): number[] {
  const src = addressWords(flow.src, flow.family);
  const dst = addressWords(flow.dst, flow.family);
  const srcPort = flow.srcPort ?? 0;
  const dstPort = flow.dstPort ?? 0;
  switch (fields) {
    case 'src-address':
      return src;
    case 'dst-address':
      return dst;
    case 'src-port':
      return [srcPort];
    case 'dst-port':
      return [dstPort];
    case 'both-addresses':
      return [...src, ...dst];
    case 'both-ports':
      return [srcPort, dstPort];
    case 'both-addresses-and-ports':
      return [...src, ...dst, srcPort, dstPort];
    case 'src-address-and-port':
      return [...src, srcPort];
    case 'dst-address-and-port':
      return [...dst, dstPort];
  }
}

/** MurmurHash3 (x86, 32-bit) over 32-bit words. */
export function hashWords(words: readonly number[], seed = 0x9747b28c): number {
  let hash = seed >>> 0;
  for (const word of words) {
    let k = Math.imul(word >>> 0, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    hash ^= k;
    hash = (hash << 13) | (hash >>> 19);
    hash = (Math.imul(hash, 5) + 0xe6546b64) >>> 0;
  }
  hash ^= words.length * 4;
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

export function classify(flow: Flow, classifier: Classifier): boolean {
  return hashWords(fieldWords(flow, classifier.fields)) % classifier.denominator === classifier.remainder;
}

/** Picks one of `size` candidates for a connection, the way NAT picks within an address range. */
export function pickIndex(flow: Flow, size: bigint): bigint {
  return BigInt(hashWords([...addressWords(flow.src, flow.family), ...addressWords(flow.dst, flow.family)])) % size;
}
