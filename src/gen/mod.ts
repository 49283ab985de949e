/**
 * Corpus generation (`spillway gen`): deterministic Zipf text, random unique lines and
 * gensort-style 100-byte records, generated straight into pages with a fast PRNG.
 *
 * @module
 */
export type { CorpusKind, CorpusOptions } from "./corpus_generator.ts";
export {
  CorpusGenerator,
  corpusKinds,
  LINE_BLOCK_BYTES,
  LINE_BYTES_MAX,
  LINE_BYTES_MIN,
  RECORD_BYTES,
  RECORD_KEY_BYTES,
  TEXT_WORDS_MAX,
  VOCABULARY_WORDS,
} from "./corpus_generator.ts";
export type {
  CorpusSink,
  GenerateCorpusOptions,
  GeneratedCorpus,
  WriteCorpusOptions,
} from "./write_corpus.ts";
export { generateCorpus, parseCorpusKind, writeCorpus } from "./write_corpus.ts";
