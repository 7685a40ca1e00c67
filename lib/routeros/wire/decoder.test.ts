import { describe, expect, it } from 'vitest';
import { createSentenceDecoder } from './decoder.js';
import { encodeSentence, encodeSentences, encodeWord } from './sentence.js';

/** Feeds `bytes` in pieces cut at `cuts` and returns every sentence seen. */
function decodeInPieces(bytes: Buffer, cuts: number[]): string[][] {
  const decoder = createSentenceDecoder({ maxWordSize: 8 << 20 });
  const out: string[][] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    const result = decoder.push(bytes.subarray(from, cut));
    expect(result.error).toBeNull();
    out.push(...result.sentences);
    from = cut;
  }
  expect(decoder.midSentence).toBe(false);
  return out;
}

describe('encodeSentence', () => {
  it('prefixes every word and ends with a zero-length word', () => {
    expect(encodeSentence(['/login', '=name=a']).toString('hex')).toBe(
      '062f6c6f67696e' + '073d6e616d653d61' + '00',
    );
  });

  it('writes an empty sentence as one zero byte', () => {
    expect(encodeSentence([])).toEqual(Buffer.from([0]));
  });

  it('round-trips every byte value through latin1 strings', () => {
    const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
    expect(decodeInPieces(encodeSentence(['=comment=' + allBytes]), [])).toEqual([['=comment=' + allBytes]]);
  });

  it('refuses characters that have no single-byte form', () => {
    expect(() => encodeWord('=comment=\u20ac')).toThrow(RangeError);
    expect(() => encodeSentence(['=comment=\u{1f600}'])).toThrow(RangeError);
  });
});

describe('createSentenceDecoder', () => {
  it.each([0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000])(
    'decodes a word of %i bytes at the boundary, whole and split byte by byte around the prefix',
    (size) => {
      const word = 'x'.repeat(size);
      const bytes = encodeSentence(['!re', `=a=${word.slice(3)}`, 'z']);
      const cuts = [1, 2, 4, 5, 6, 7, 8, bytes.length - 3, bytes.length - 1];
      expect(decodeInPieces(bytes, [])).toEqual([['!re', `=a=${word.slice(3)}`, 'z']]);
      expect(decodeInPieces(bytes, cuts)).toEqual([['!re', `=a=${word.slice(3)}`, 'z']]);
    },
  );

  it.each([
    [0xfffffff, 'efffffff'],
    [0x10000000, 'f010000000'],
  ])('reads the %i-byte length prefix %s whole and split byte by byte', (size, hex) => {
    // Materialising 256 MiB words is pointless here: the limit check reports the length it read.
    const prefix = Buffer.from(hex, 'hex');
    const whole = createSentenceDecoder({ maxWordSize: 16 }).push(prefix);
    expect(whole.error).toMatchObject({ code: 'WordTooLarge', length: size });
    const split = createSentenceDecoder({ maxWordSize: 16 });
    for (let i = 0; i < prefix.length - 1; i++) expect(split.push(prefix.subarray(i, i + 1)).error).toBeNull();
    expect(split.push(prefix.subarray(prefix.length - 1)).error).toMatchObject({ code: 'WordTooLarge', length: size });
  });

  it('decodes a 4 MiB word fed in 64 KiB chunks', () => {
    const bytes = encodeSentence(['!re', '=x=' + 'y'.repeat(4 << 20)]);
    const cuts: number[] = [];
    for (let at = 1; at < bytes.length; at += 1 << 16) cuts.push(at);
    const sentences = decodeInPieces(bytes, cuts);
    expect(sentences[0]?.[1]?.length).toBe((4 << 20) + 3);
  });

  it('yields sentences split at every possible byte position', () => {
    const bytes = encodeSentences([
      ['!re', '=.id=*1', '=comment=' + 'c'.repeat(200), '.tag=7'],
      ['!done', '.tag=7'],
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(decodeInPieces(bytes, [cut])).toEqual([
        ['!re', '=.id=*1', '=comment=' + 'c'.repeat(200), '.tag=7'],
        ['!done', '.tag=7'],
      ]);
    }
  });

  it('yields several sentences from one chunk and an empty sentence as []', () => {
    const decoder = createSentenceDecoder();
    const result = decoder.push(Buffer.concat([encodeSentence(['!done']), Buffer.from([0]), encodeSentence(['a'])]));
    expect(result).toEqual({ sentences: [['!done'], [], ['a']], error: null });
  });

  it('fails on an oversized word and stays failed, keeping earlier sentences', () => {
    const decoder = createSentenceDecoder({ maxWordSize: 10 });
    const result = decoder.push(Buffer.concat([encodeSentence(['ok']), encodeSentence(['x'.repeat(11)])]));
    expect(result.sentences).toEqual([['ok']]);
    expect(result.error).toMatchObject({ code: 'WordTooLarge', length: 11, limit: 10 });
    expect(decoder.push(encodeSentence(['ok'])).sentences).toEqual([]);
    expect(decoder.error?.code).toBe('WordTooLarge');
  });

  it('fails on a reserved length byte', () => {
    const decoder = createSentenceDecoder();
    expect(decoder.push(Buffer.from([0xf8])).error).toMatchObject({ code: 'ReservedLengthByte', byte: 0xf8 });
  });

  it('fails on a sentence with too many words', () => {
    const decoder = createSentenceDecoder({ maxSentenceWords: 3 });
    expect(decoder.push(encodeSentence(['a', 'b', 'c'])).error).toBeNull();
    expect(decoder.push(encodeSentence(['a', 'b', 'c', 'd'])).error).toMatchObject({ code: 'SentenceTooLong' });
  });

  it('reports a stream cut inside a sentence as midSentence', () => {
    const decoder = createSentenceDecoder();
    decoder.push(encodeSentence(['!re', '=a=b']).subarray(0, 5));
    expect(decoder.midSentence).toBe(true);
  });
});
