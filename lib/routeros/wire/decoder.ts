import { lengthFromPrefix, lengthPrefixSize } from './length.js';

/** Why a byte stream stopped being a RouterOS API stream. After an error the decoder stays failed. */
export type WireError =
  | { code: 'ReservedLengthByte'; byte: number; message: string }
  | { code: 'WordTooLarge'; length: number; limit: number; message: string }
  | { code: 'SentenceTooLong'; limit: number; message: string }
  | { code: 'SentenceTooLarge'; limit: number; message: string };

export interface DecoderOptions {
  /** Largest accepted word, in bytes (default 1 MiB). */
  maxWordSize?: number;
  /** Most words accepted in one sentence (default 65,536). */
  maxSentenceWords?: number;
  /** Most bytes (word bodies) accepted in one sentence (default: no limit beyond words × word size). */
  maxSentenceBytes?: number;
}

export interface DecodeResult {
  /** Sentences completed by this chunk, in order; an empty sentence is a bare zero-length word. */
  sentences: string[][];
  /** Set when the stream broke; the sentences before the break are still returned. */
  error: WireError | null;
}

export interface SentenceDecoder {
  push(chunk: Uint8Array): DecodeResult;
  /** The error that stopped the decoder, if any. */
  readonly error: WireError | null;
  /** True while part of a sentence is buffered (a clean stream ends with this false). */
  readonly midSentence: boolean;
}

export const DEFAULT_MAX_WORD_SIZE = 1024 * 1024;
export const DEFAULT_MAX_SENTENCE_WORDS = 65_536;

/**
 * Takes the stream in chunks of any size (split anywhere, even inside a length prefix) and yields
 * complete sentences. Word bodies are gathered as slices and joined once, so a large word that
 * arrives in many chunks costs linear time.
 */
export function createSentenceDecoder(options: DecoderOptions = {}): SentenceDecoder {
  const maxWordSize = options.maxWordSize ?? DEFAULT_MAX_WORD_SIZE;
  const maxWords = options.maxSentenceWords ?? DEFAULT_MAX_SENTENCE_WORDS;
  const maxSentenceBytes = options.maxSentenceBytes ?? Number.POSITIVE_INFINITY;
  let sentenceBytes = 0;
  const tooLarge = (length: number): WireError | null => {
    sentenceBytes += length;
    return sentenceBytes > maxSentenceBytes
      ? { code: 'SentenceTooLarge', limit: maxSentenceBytes, message: `sentence exceeds ${maxSentenceBytes} bytes` }
      : null;
  };
  const prefix = Buffer.alloc(5);
  let prefixHave = 0;
  let prefixNeed = 0;
  let bodyRemaining = -1; // -1: reading a length prefix
  let bodyParts: Uint8Array[] = [];
  let words: string[] = [];
  let failure: WireError | null = null;

  function finishWord(): WireError | null {
    const body = bodyParts.length === 1 ? bodyParts[0] : Buffer.concat(bodyParts);
    bodyParts = [];
    bodyRemaining = -1;
    words.push(body === undefined ? '' : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1'));
    if (words.length > maxWords) {
      return { code: 'SentenceTooLong', limit: maxWords, message: `sentence has more than ${maxWords} words` };
    }
    return null;
  }

  /** Consumes prefix bytes from `chunk` at `i`; returns the new index or a WireError. */
  function readPrefix(chunk: Uint8Array, i: number, out: string[][]): number | WireError {
    let at = i;
    while (at < chunk.length && (prefixNeed === 0 || prefixHave < prefixNeed)) {
      const byte = chunk[at] ?? 0;
      if (prefixNeed === 0) {
        const size = lengthPrefixSize(byte);
        if (size === null) {
          return { code: 'ReservedLengthByte', byte, message: `reserved length byte 0x${byte.toString(16)}` };
        }
        prefixNeed = size;
      }
      prefix[prefixHave++] = byte;
      at++;
    }
    if (prefixHave < prefixNeed || prefixNeed === 0) return at;
    const length = lengthFromPrefix(prefix.subarray(0, prefixNeed));
    prefixHave = 0;
    prefixNeed = 0;
    if (length === 0) {
      out.push(words);
      words = [];
      sentenceBytes = 0;
      return at;
    }
    if (length > maxWordSize) {
      return { code: 'WordTooLarge', length, limit: maxWordSize, message: `word of ${length} bytes exceeds ${maxWordSize}` };
    }
    const large = tooLarge(length);
    if (large !== null) return large;
    bodyRemaining = length;
    return at;
  }

  /** Fast path: a whole word (prefix and body) inside the chunk at `i`; returns the next index or -1. */
  function wholeWord(buf: Buffer, i: number, out: string[][]): number | WireError {
    const first = buf[i] ?? 0;
    if (first >= 0x80 || first > maxWordSize) return -1;
    if (first === 0) {
      out.push(words);
      words = [];
      sentenceBytes = 0;
      return i + 1;
    }
    const end = i + 1 + first;
    if (end > buf.length) return -1;
    const large = tooLarge(first);
    if (large !== null) return large;
    words.push(buf.toString('latin1', i + 1, end));
    if (words.length > maxWords) {
      return { code: 'SentenceTooLong', limit: maxWords, message: `sentence has more than ${maxWords} words` };
    }
    return end;
  }

  function push(chunk: Uint8Array): DecodeResult {
    const sentences: string[][] = [];
    if (failure !== null) return { sentences, error: failure };
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let i = 0;
    while (i < buf.length) {
      if (bodyRemaining < 0 && prefixHave === 0) {
        const next = wholeWord(buf, i, sentences);
        if (typeof next !== 'number') return fail(next, sentences);
        if (next >= 0) {
          i = next;
          continue;
        }
      }
      if (bodyRemaining < 0) {
        const next = readPrefix(buf, i, sentences);
        if (typeof next !== 'number') return fail(next, sentences);
        i = next;
        continue;
      }
      const take = Math.min(bodyRemaining, buf.length - i);
      bodyParts.push(buf.subarray(i, i + take));
      bodyRemaining -= take;
      i += take;
      if (bodyRemaining === 0) {
        const error = finishWord();
        if (error !== null) return fail(error, sentences);
      }
    }
    return { sentences, error: null };
  }

  function fail(error: WireError, sentences: string[][]): DecodeResult {
    failure = error;
    words = [];
    bodyParts = [];
    return { sentences, error };
  }

  return {
    push,
    get error() {
      return failure;
    },
    get midSentence() {
      return words.length > 0 || prefixHave > 0 || bodyRemaining >= 0;
    },
  };
}
