import { describe, expect, it } from 'vitest';
import { decodeLength, encodeLength, encodedLengthSize } from './length.js';

describe('encodeLength / decodeLength', () => {
  it.each([
    [0x00, '00'],
    [0x7f, '7f'],
    [0x80, '8080'],
    [0x3fff, 'bfff'],
    [0x4000, 'c04000'],
    [0x1fffff, 'dfffff'],
    [0x200000, 'e0200000'],
    [0xfffffff, 'efffffff'],
    [0x10000000, 'f010000000'],
    [0xffffffff, 'f0ffffffff'],
  ])('length 0x%s encodes as %s and decodes back', (length, hex) => {
    const encoded = encodeLength(length);
    expect(encoded.toString('hex')).toBe(hex);
    expect(encodedLengthSize(length)).toBe(encoded.length);
    expect(decodeLength(encoded)).toEqual({ kind: 'ok', length, size: encoded.length });
  });

  it('reads a length at an offset', () => {
    expect(decodeLength(Buffer.from('ff8080', 'hex'), 1)).toEqual({ kind: 'ok', length: 0x80, size: 2 });
  });

  it.each([0xf8, 0xf9, 0xfc, 0xff])('rejects the reserved first byte 0x%s', (byte) => {
    expect(decodeLength(Buffer.from([byte, 0, 0, 0, 0]))).toEqual({ kind: 'reserved', byte });
  });

  it('accepts 0xF0-0xF7 as the five-byte form', () => {
    expect(decodeLength(Buffer.from('f700000001', 'hex'))).toEqual({ kind: 'ok', length: 1, size: 5 });
  });

  it.each([
    ['', 1],
    ['80', 2],
    ['c040', 3],
    ['e02000', 4],
    ['f0100000', 5],
  ])('reports a truncated prefix %s as incomplete (needs %i bytes)', (hex, size) => {
    expect(decodeLength(Buffer.from(hex, 'hex'))).toEqual({ kind: 'incomplete', size });
  });

  it.each([-1, 1.5, 0x100000000, Number.NaN])('refuses to encode %s', (length) => {
    expect(() => encodeLength(length)).toThrow(RangeError);
  });
});
