#!/usr/bin/env python3
"""make_select_fixtures.py - reference values of the label-free selection scores for
tests/test_select.c, computed with numpy exactly as their authors' code does:

  entropy  mean over rows of -sum p log p, p = softmax (here: exp of the given log-probabilities)
  SND      Saito et al. 2021 (VisionLearningGroup/SND): rows of p L2-normalised
           (F.normalize), M = P P^T / 0.05, diagonal filled with -1/0.05, row softmax,
           mean over rows of -sum s log(s + 1e-5)
  DEV      You et al. 2019 (thuml/Deep-Embedded-Validation, get_dev_risk): weighted = w * l,
           eta = -cov(weighted, w) / var(w) (np.cov, np.var with ddof=1),
           risk = mean(weighted) + eta * mean(w) - eta

Writes tests/fixtures/select_scores.txt: "n C", n rows of C float32 log-probabilities (%.9g),
"entropy E", "snd S", then "m", m lines "w l", "dev R". Run: /usr/bin/python3 tools/make_select_fixtures.py
"""
import sys
import numpy as np

def main(out):
    rng = np.random.default_rng(12)
    n, C = 60, 5
    z = rng.normal(size=(n, C)) * 2.0
    z[:20] *= 4.0                                     # some confident rows
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    logp = logp.astype(np.float32)                    # what the C code reads
    lp = logp.astype(np.float64)
    p = np.exp(lp)
    ent = float((-(p * lp).sum(1)).mean())
    q = p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)
    mat = q @ q.T / 0.05
    np.fill_diagonal(mat, -1 / 0.05)
    mat = mat - mat.max(1, keepdims=True)
    s = np.exp(mat) / np.exp(mat).sum(1, keepdims=True)
    snd = float((-(s * np.log(s + 1e-5)).sum(1)).mean())
    m = 40
    w = np.exp(rng.normal(size=(m, 1)) * 0.7)
    l = rng.exponential(size=(m, 1)) + 0.3 * w
    weighted = w * l
    cov = np.cov(np.concatenate((weighted, w), axis=1), rowvar=False)[0][1]
    var_w = np.var(w, ddof=1)
    eta = -cov / var_w
    dev = float(np.mean(weighted) + eta * np.mean(w) - eta)
    with open(out, "w") as f:
        f.write(f"{n} {C}\n")
        for r in logp:
            f.write(" ".join(f"{v:.9g}" for v in r) + "\n")
        f.write(f"entropy {ent:.17g}\nsnd {snd:.17g}\n{m}\n")
        for a, b in zip(w[:, 0], l[:, 0]):
            f.write(f"{a:.17g} {b:.17g}\n")
        f.write(f"dev {dev:.17g}\n")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/select_scores.txt")
