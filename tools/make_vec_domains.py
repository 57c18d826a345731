#!/usr/bin/env python3
"""make_vec_domains.py - a small two-domain bag-of-words problem in svmlight format, for trying
`dann train --preset shallow` on sparse features (docs/VECTORS.md) without a download. The same
construction as tests/test_cli_vec.c's generator (another random stream):

  2 classes (labels -1/+1), 2 domains, 2,000 words (1-based indices). Each example holds
  4 "pivot" words of its class among 100 shared by both domains (words 1-100 for -1, 101-200
  for +1) and 1 of the other class's, 5 words of its class among 50 of its own domain, and 20
  noise words among 800 of its own domain (source: words 201-1100, target: 1101-2000), each
  counted 1..3 times. The domains share only the pivots.

Writes DIR/source.svm (2,000 labelled), DIR/target.svm (2,000, no labels), DIR/source-test.svm
(500) and DIR/target-test.svm (1,000, labelled).
Run: /usr/bin/python3 tools/make_vec_domains.py DIR [SEED]
"""
import os
import sys

import numpy as np


def write(path, n, dom, labelled, rng):
    base = 200 + 900 * dom
    with open(path, "w") as f:
        for _ in range(n):
            y = int(rng.integers(0, 2))
            words = set()
            for first, span, count in ((100 * y, 100, 4), (100 * (1 - y), 100, 1),
                                       (base + 50 * y, 50, 5), (base + 100, 800, 20)):
                while sum(first <= w < first + span for w in words) < count:
                    words.add(first + int(rng.integers(0, span)))
            feats = " ".join("%d:%d" % (w + 1, rng.integers(1, 4)) for w in sorted(words))
            f.write(("%s %s\n" % ("+1" if y else "-1", feats)) if labelled else feats + "\n")


def main(out, seed):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    write(os.path.join(out, "source.svm"), 2000, 0, True, rng)
    write(os.path.join(out, "target.svm"), 2000, 1, False, rng)
    write(os.path.join(out, "source-test.svm"), 500, 0, True, rng)
    write(os.path.join(out, "target-test.svm"), 1000, 1, True, rng)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/vec-data", int(sys.argv[2]) if len(sys.argv) > 2 else 1)
