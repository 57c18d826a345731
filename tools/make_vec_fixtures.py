#!/usr/bin/env python3
"""make_vec_fixtures.py - small feature-vector files and what scikit-learn and numpy read from
them, for tests/test_vec.c (the csv: and svmlight: readers, src/data/csv.c and svmlight.c).

For every case NAME it writes tests/fixtures/vec/NAME (the data file, in the spelling its
comment below gives) and NAME.ref, the reference reading:
  "VREF", int32 n, D, n_classes, int32 y[n] (classes, -1 = unlabelled), float32 X[n, D]
all little-endian. The references come from the field's readers, not from dann:
  svmlight  sklearn.datasets.load_svmlight_file(zero_based = base == 0, dtype=float64), dense,
            rounded to float32 (an unlabelled file is read with a dummy label put in front)
  csv       numpy.loadtxt(delimiter=",", comments="#", skiprows = 1 if it has a header),
            rounded to float32, the label column split off
and the label rule of docs/VECTORS.md written out here on its own: integer labels; -1 is class 0
(a file never holds both -1 and 0), any other k >= 0 is class k; n_classes = highest + 1.
Run: /usr/bin/python3 tools/make_vec_fixtures.py tests/fixtures/vec   (needs python3-sklearn)
"""
import gzip
import os
import struct
import sys
import tempfile

import numpy as np
from sklearn.datasets import load_svmlight_file


def fmt(rng, v):
    """One value in one of several spellings numpy and Python both read."""
    k = rng.integers(0, 6)
    if k == 0:
        return "%.6g" % v
    if k == 1:
        return "%.3e" % v
    if k == 2:
        return "%.9f" % v
    if k == 3:
        return "%d" % round(v * 10)
    if k == 4:
        return ("%.4f" % v).replace("0.", ".", 1) if abs(v) < 1 and v >= 0 else "%.4f" % v
    return "%+.5g" % v


def classes(raw):
    """The label rule, on a list of numbers."""
    y = np.asarray(raw, dtype=np.float64)
    assert np.all(y == np.floor(y))
    y = y.astype(np.int64)
    if (y == -1).any():
        assert not (y == 0).any()
        y[y == -1] = 0
    return y, int(y.max()) + 1


def write_ref(path, X, y, n_classes):
    X = np.asarray(X, dtype=np.float64).astype(np.float32)
    n, D = X.shape
    with open(path, "wb") as f:
        f.write(b"VREF" + struct.pack("<3i", n, D, n_classes))
        f.write(np.asarray(y, dtype="<i4").tobytes())
        f.write(X.astype("<f4").tobytes())


def svm_lines(rng, n, D, labels, base, nnz):
    lines = []
    for i in range(n):
        k = int(rng.integers(0, nnz + 1))
        cols = np.sort(rng.choice(D, size=k, replace=False)) if k else []
        toks = [] if labels is None else [labels[i]]
        toks += ["%d:%s" % (c + base, fmt(rng, rng.normal() * 3)) for c in cols]
        lines.append(" ".join(toks))
    return lines


def svmlight_case(out, name, text, base, unlabelled=False, gz=False):
    path = os.path.join(out, name)
    data = text.encode()
    with open(path, "wb") as f:
        f.write(gzip.compress(data, mtime=0) if gz else data)
    src = text
    if unlabelled:  # sklearn needs a label: a dummy one in front of each example line
        src = "\n".join(("0 " + ln) if ln.split("#")[0].strip() else ln for ln in text.split("\n"))
    with tempfile.NamedTemporaryFile("wb", suffix=".svm", delete=False) as t:
        t.write(src.encode())
    try:
        X, y = load_svmlight_file(t.name, zero_based=(base == 0), dtype=np.float64)
    finally:
        os.unlink(t.name)
    if unlabelled:
        y, nc = np.full(X.shape[0], -1), 0
    else:
        y, nc = classes(y)
    write_ref(path + ".ref", X.toarray(), y, nc)


def csv_case(out, name, text, header, label):
    """label: column index of the label, or None."""
    path = os.path.join(out, name)
    with open(path, "w", newline="") as f:
        f.write(text)
    A = np.loadtxt(path, delimiter=",", comments="#", skiprows=1 if header else 0, ndmin=2)
    if label is None:
        y, nc, X = np.full(A.shape[0], -1), 0, A
    else:
        y, nc = classes(A[:, label])
        X = np.delete(A, label, axis=1)
    write_ref(path + ".ref", X, y, nc)


def main(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(9)

    # pm1.svm: -1/+1 labels, 1-based, with a comment line, a blank line, qid tokens, a trailing
    # comment, CRLF line ends, tabs, an explicit zero, an example without features, a denormal
    # float32 value, one near FLT_MAX and one just above a float32 midpoint whose double is the
    # midpoint (1 + 2^-24: double-then-float gives 1.0, a direct strtof 1 + 2^-23).
    # pm1.svm.gz: the same bytes gzipped.
    lab = [("+1" if rng.integers(0, 2) else "-1") for _ in range(24)]
    lines = svm_lines(rng, 24, 40, lab, 1, 6)
    lines[3] = "-1 qid:7 2:0 5:1.5e-40 7:1.00000005960464477539062501 40:3.4e38"
    lines[4] = "+1"
    lines[5] = lines[5].replace(" ", "\t", 1) + "  # trailing comment"
    lines[6] = "+1 qid:12 " + lines[6][3:] if lines[6].startswith("+1 ") else lines[6]
    text = "# pm1: a comment line\n" + "\n".join(lines[:10]) + "\n\n" + "\r\n".join(lines[10:]) + "\n"
    svmlight_case(out, "pm1.svm", text, 1)
    svmlight_case(out, "pm1.svm.gz", text, 1, gz=True)

    # multi0.svm: classes 0..3, 0-based indices (base=0), index 0 used, no final newline.
    lab = [str(int(rng.integers(0, 4))) for _ in range(30)]
    lines = svm_lines(rng, 30, 25, lab, 0, 8)
    lines[0] = "2 0:1 3:-2.25 24:7"
    svmlight_case(out, "multi0.svm", "\n".join(lines), 0)

    # labels.svm: labels written 1.0, 2e0, +3, 0 (integral numbers in other spellings).
    lines = svm_lines(rng, 8, 12, ["1.0", "2e0", "+3", "0", "1", "2", "3.000", "0.0"], 1, 4)
    svmlight_case(out, "labels.svm", "\n".join(lines) + "\n", 1)

    # unlab.svm: no labels at all (an unlabelled target file).
    lines = svm_lines(rng, 12, 30, None, 1, 5)
    lines = [ln if ln else "1:0.5" for ln in lines]
    svmlight_case(out, "unlab.svm", "\n".join(lines) + "\n", 1, unlabelled=True)

    # header.csv: a header, label first (the default), spaces around fields, a comment line,
    # a blank line, a trailing comment, CRLF line ends, values in several spellings.
    D = 7
    rows = []
    for i in range(20):
        vals = [fmt(rng, v) for v in rng.normal(size=D) * 2]
        rows.append(",".join([str(int(rng.integers(0, 3)))] + vals))
    rows[2] = " 1 , " + rows[2].split(",", 1)[1].replace(",", " ,\t", 2)
    rows[5] = rows[5] + " # trailing"
    rows[6] = rows[6].rsplit(",", 1)[0] + ",1.00000005960464477539062501"
    text = ("y," + ",".join("f%d" % k for k in range(D)) + "\r\n" + "\r\n".join(rows[:8]) +
            "\r\n# a comment line\r\n\r\n" + "\r\n".join(rows[8:]) + "\r\n")
    csv_case(out, "header.csv", text, True, 0)

    # last.csv: no header, -1/+1 label in the last column.
    rows = [",".join([fmt(rng, v) for v in rng.normal(size=5)] +
                     [("1" if rng.integers(0, 2) else "-1")]) for _ in range(15)]
    csv_case(out, "last.csv", "\n".join(rows) + "\n", False, 5)

    # named.csv: a quoted header, the label in the middle (label=target).
    rows = [",".join([fmt(rng, v) for v in rng.normal(size=2)] + [str(int(rng.integers(0, 5)))] +
                     [fmt(rng, v) for v in rng.normal(size=3)]) for _ in range(12)]
    text = '"a","b","target","c","d","e"\n' + "\n".join(rows) + "\n"
    csv_case(out, "named.csv", text, True, 2)

    # nolabel.csv: every column a feature (label=none), no header.
    rows = [",".join(fmt(rng, v) for v in rng.normal(size=4)) for _ in range(10)]
    csv_case(out, "nolabel.csv", "\n".join(rows) + "\n", False, None)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/vec")
