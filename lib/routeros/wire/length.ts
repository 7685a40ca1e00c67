/**
 * RouterOS API word lengths: big-endian, 1 to 5 bytes, the high bits of the first byte saying how
 * many follow. A first byte >= 0xF8 is reserved for control bytes and never starts a length.
 */

/** The largest length the 5-byte form can carry. */
export const MAX_ENCODABLE_LENGTH = 0xffffffff;

export type LengthDecode =
  | { kind: 'ok'; length: number; size: number }
  | { kind: 'incomplete'; size: number }
  | { kind: 'reserved'; byte: number };

/** Bytes a length occupies, judged from its first byte; null when the byte is reserved (>= 0xF8). */
export function lengthPrefixSize(firstByte: number): number | null {
  if (firstByte < 0x80) return 1;
  if (firstByte < 0xc0) return 2;
  if (firstByte < 0xe0) return 3;
  if (firstByte < 0xf0) return 4;
  if (firstByte < 0xf8) return 5;
  return null;
}

export function encodeLength(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_ENCODABLE_LENGTH) {
    throw new RangeError(`RouterOS word length out of range: ${length}`);
  }
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x4000) return Buffer.from([(length >>> 8) | 0x80, length & 0xff]);
  if (length < 0x200000) {
    return Buffer.from([(length >>> 16) | 0xc0, (length >>> 8) & 0xff, length & 0xff]);
  }
  if (length < 0x10000000) {
    return Buffer.from([(length >>> 24) | 0xe0, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]);
  }
  return Buffer.from([0xf0, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]);
}

/** How many bytes `encodeLength(length)` produces. */
export function encodedLengthSize(length: number): number {
  if (length < 0x80) return 1;
  if (length < 0x4000) return 2;
  if (length < 0x200000) return 3;
  if (length < 0x10000000) return 4;
  return 5;
}

/** Writes the length at `offset` of `target` (which must have room) and returns the bytes written. */
export function writeLength(length: number, target: Buffer, offset: number): number {
  const size = encodedLengthSize(length);
  if (size === 1) {
    target[offset] = length;
    return 1;
  }
  if (size === 2) {
    target[offset] = (length >>> 8) | 0x80;
    target[offset + 1] = length & 0xff;
    return 2;
  }
  const encoded = encodeLength(length);
  encoded.copy(target, offset);
  return encoded.length;
}

/** Decodes the length that starts at `offset`, without consuming anything. */
export function decodeLength(bytes: Uint8Array, offset = 0): LengthDecode {
  const first = bytes[offset];
  if (first === undefined) return { kind: 'incomplete', size: 1 };
  const size = lengthPrefixSize(first);
  if (size === null) return { kind: 'reserved', byte: first };
  if (bytes.length - offset < size) return { kind: 'incomplete', size };
  return { kind: 'ok', length: lengthFromPrefix(bytes.subarray(offset, offset + size)), size };
}

/** The length held in a complete prefix (as `lengthPrefixSize` sized it). */
export function lengthFromPrefix(prefix: Uint8Array): number {
  const at = (i: number): number => prefix[i] ?? 0;
  switch (prefix.length) {
    case 1:
      return at(0);
    case 2:
      return ((at(0) & 0x3f) << 8) | at(1);
    case 3:
      return ((at(0) & 0x1f) << 16) | (at(1) << 8) | at(2);
    case 4:
      return ((at(0) & 0x0f) * 0x1000000) + ((at(1) << 16) | (at(2) << 8) | at(3));
    default:
      return at(1) * 0x1000000 + ((at(2) << 16) | (at(3) << 8) | at(4));
  }
}
