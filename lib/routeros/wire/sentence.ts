import { encodedLengthSize, encodeLength, writeLength } from './length.js';

/**
 * Words are byte strings. The codec maps each byte to the code point of the same value (latin1),
 * so any byte sequence read from the wire is written back unchanged. Strings holding code points
 * above 0xFF have no byte form and are refused: they are a bug in the caller, not wire data.
 */
// eslint-disable-next-line no-control-regex
const NOT_A_BYTE = /[^\u0000-\u00ff]/;

export function isWireSafe(word: string): boolean {
  return !NOT_A_BYTE.test(word);
}

function assertWireSafe(word: string): void {
  if (!isWireSafe(word)) {
    throw new RangeError(`RouterOS word holds a character outside latin1: ${JSON.stringify(word.slice(0, 40))}`);
  }
}

export function encodeWord(word: string): Buffer {
  assertWireSafe(word);
  const body = Buffer.from(word, 'latin1');
  return Buffer.concat([encodeLength(body.length), body]);
}

/** A sentence: its words, each length-prefixed, then the zero-length word that ends it. */
export function encodeSentence(words: readonly string[]): Buffer {
  let size = 1;
  for (const word of words) {
    assertWireSafe(word);
    size += word.length + encodedLengthSize(word.length);
  }
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const word of words) {
    offset += writeLength(word.length, out, offset);
    offset += out.write(word, offset, 'latin1');
  }
  out[offset] = 0;
  return out;
}

/** Several sentences in one buffer, for a single socket write. */
export function encodeSentences(sentences: readonly (readonly string[])[]): Buffer {
  return Buffer.concat(sentences.map(encodeSentence));
}
