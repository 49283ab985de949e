#!/usr/bin/env python3
"""Fallback corpus generator for sort_vs_gnu.sh when `spillway gen` is not available.

usage: _gen_corpus.py text|lines BYTES OUT
text:  lines of 1-15 Zipf-distributed words (many duplicate lines and shared prefixes)
lines: unique lines (a counter mixed through a bijective hash, printed as words and hex)
"""
import random, sys

kind, size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(42)
syll = ["ka", "lo", "mi", "ne", "tu", "ra", "se", "vo", "qui", "zen", "da", "po", "li", "gra", "sh"]
vocab = []
for i in range(50000):
    n = 1 + (i % 4)
    vocab.append("".join(rng.choice(syll) for _ in range(n)) + (str(i) if i > 40000 else ""))
import itertools
cum = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(vocab))))
with open(out, "w", buffering=1 << 20) as f:
    written = 0
    if kind == "text":
        while written < size:
            lines = []
            for _ in range(2000):
                n = rng.randint(1, 15)
                lines.append(" ".join(rng.choices(vocab, cum_weights=cum, k=n)))
            block = "\n".join(lines) + "\n"
            f.write(block)
            written += len(block)
    else:
        i = 0
        M = (1 << 61) - 1
        while written < size:
            lines = []
            for _ in range(5000):
                h = (i * 0x9E3779B97F4A7C15 + 12345) % M
                lines.append("%s %016x %s" % (vocab[h % 1000], h, vocab[(h >> 20) % 50000]))
                i += 1
            block = "\n".join(lines) + "\n"
            f.write(block)
            written += len(block)
