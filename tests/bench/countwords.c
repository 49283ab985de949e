/*
 * A single-threaded optimized word counter for the countwords benchmark (the task of
 * benhoyt/countwords, written from scratch for spillway's bench): split on ASCII whitespace
 * (space, \t \n \v \f \r), fold ASCII A-Z to lower case, count in one open-addressing hash
 * table (FNV-1a, linear probing, doubled at 1/2 load), one pass over 64 KiB reads, then sort by
 * count descending, ties by word bytes, and print "word<TAB>count" (spillway count's tsv).
 *
 * Build: gcc -O2 -o countwords tests/bench/countwords.c
 * Usage: countwords < input > output
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *word; /* NULL: empty slot */
  uint32_t length;
  uint32_t hash;
  uint64_t count;
} Entry;

static Entry *table;
static size_t capacity = 1 << 16;
static size_t used;

/* Word bytes live in big arena blocks: no malloc per word. */
static char *arena;
static size_t arena_left;

static char *keep(const char *bytes, size_t length) {
  if (length > arena_left) {
    size_t block = length > (1 << 20) ? length : (1 << 20);
    arena = malloc(block);
    if (arena == NULL) abort();
    arena_left = block;
  }
  char *copy = arena;
  memcpy(copy, bytes, length);
  arena += length;
  arena_left -= length;
  return copy;
}

static void grow(void) {
  size_t new_capacity = capacity * 2;
  Entry *grown = calloc(new_capacity, sizeof(Entry));
  if (grown == NULL) abort();
  for (size_t i = 0; i < capacity; i++) {
    if (table[i].word == NULL) continue;
    size_t slot = table[i].hash & (new_capacity - 1);
    while (grown[slot].word != NULL) slot = (slot + 1) & (new_capacity - 1);
    grown[slot] = table[i];
  }
  free(table);
  table = grown;
  capacity = new_capacity;
}

static void add(const char *word, size_t length, uint32_t hash) {
  size_t slot = hash & (capacity - 1);
  for (;;) {
    Entry *entry = &table[slot];
    if (entry->word == NULL) break;
    if (entry->hash == hash && entry->length == length && memcmp(entry->word, word, length) == 0) {
      entry->count++;
      return;
    }
    slot = (slot + 1) & (capacity - 1);
  }
  table[slot].word = keep(word, length);
  table[slot].length = (uint32_t)length;
  table[slot].hash = hash;
  table[slot].count = 1;
  if (++used * 2 > capacity) grow();
}

static int by_count(const void *a, const void *b) {
  const Entry *x = a, *y = b;
  if (x->count != y->count) return x->count > y->count ? -1 : 1;
  size_t n = x->length < y->length ? x->length : y->length;
  int order = memcmp(x->word, y->word, n);
  if (order != 0) return order;
  return x->length < y->length ? -1 : x->length > y->length;
}

static unsigned char space[256];
static unsigned char lower[256];

int main(void) {
  for (int c = 0; c < 256; c++) lower[c] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
  space[' '] = space['\t'] = space['\n'] = space['\v'] = space['\f'] = space['\r'] = 1;
  table = calloc(capacity, sizeof(Entry));
  enum { BUFFER = 64 * 1024 };
  static char buffer[BUFFER];
  char *word = malloc(BUFFER);
  size_t word_capacity = BUFFER, word_length = 0;
  uint32_t hash = 2166136261u;
  ssize_t got;
  while ((got = read(0, buffer, BUFFER)) > 0) {
    for (ssize_t i = 0; i < got; i++) {
      unsigned char c = (unsigned char)buffer[i];
      if (space[c]) {
        if (word_length > 0) {
          add(word, word_length, hash);
          word_length = 0;
          hash = 2166136261u;
        }
        continue;
      }
      c = lower[c];
      if (word_length == word_capacity) {
        word_capacity *= 2;
        word = realloc(word, word_capacity);
        if (word == NULL) abort();
      }
      word[word_length++] = (char)c;
      hash = (hash ^ c) * 16777619u;
    }
  }
  if (got < 0) {
    perror("read");
    return 2;
  }
  if (word_length > 0) add(word, word_length, hash);
  Entry *entries = malloc((used + 1) * sizeof(Entry));
  size_t n = 0;
  for (size_t i = 0; i < capacity; i++)
    if (table[i].word != NULL) entries[n++] = table[i];
  qsort(entries, n, sizeof(Entry), by_count);
  for (size_t i = 0; i < n; i++) {
    fwrite(entries[i].word, 1, entries[i].length, stdout);
    printf("\t%llu\n", (unsigned long long)entries[i].count);
  }
  return 0;
}
