export { encodeLength, decodeLength, encodedLengthSize, lengthPrefixSize, MAX_ENCODABLE_LENGTH } from './length.js';
export type { LengthDecode } from './length.js';
export { encodeWord, encodeSentence, encodeSentences, isWireSafe } from './sentence.js';
export { createSentenceDecoder, DEFAULT_MAX_SENTENCE_WORDS, DEFAULT_MAX_WORD_SIZE } from './decoder.js';
export type { DecodeResult, DecoderOptions, SentenceDecoder, WireError } from './decoder.js';
