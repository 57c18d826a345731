"""make_viz_fixtures.py - the scikit-learn / numpy reference values for the embedding and proxy
A-distance tests (tests/test_viz_embed.c, tests/test_viz_pad.c), written to
tests/fixtures/sklearn_viz.safetensors.

Usage: /usr/bin/python3 tools/make_viz_fixtures.py tests/fixtures
Needs Debian's python3-sklearn, python3-numpy (and python3-torch for tools/st.py).

Contents (float32 tensors; exact float64 scalars as metadata strings):
  tsne_x        (300, 64)  sklearn's bundled digits, scaled to [0, 1] plus uniform noise of 0.01
                           (integer pixels make equal distances common; ties would make ranks,
                           and so trustworthiness, depend on the sort's tie order)
  tsne_p_rows   (20, 300)  sklearn's joint probabilities P (perplexity 30, squared euclidean
                           distances, exact method) for the first 20 points: the perplexity search
                           and the symmetrisation
  tsne_y        (300, 2)   sklearn's TSNE(method="exact", init="pca", learning_rate="auto",
                           random_state=0) embedding
  pca_y         (300, 3)   numpy's PCA (SVD of the centred data): the first 3 projections
  pca_var       (3,)       their variances (ddof 1)
  pca40_y       (40, 3)    the same for the first 40 points only (fewer points than dimensions)
  metadata: trust_tsne_k5, trust_tsne_k12 (sklearn.manifold.trustworthiness of tsne_y),
            trust_pca_k5 (of the first 2 PCA projections), kl_tsne (sklearn's final KL)
  pad_xtr (150, 60), pad_ytr (150,), pad_xte (150, 60), pad_yte (150,) (I32 labels, 0 source,
                           1 target): two Gaussian domains whose means are 1.55 apart
  pad_c         (6,)       the C grid
  pad_err       (6,)       held-out error of LinearSVC(penalty="l2", loss="squared_hinge",
                           dual=False, tol=1e-8, C=c) per C: liblinear's primal L2-loss SVM with
                           a regularised bias column of 1 (intercept_scaling 1), converged far
                           enough to be the optimum (at tol=1e-4 sklearn's C=100 model is still
                           two test errors away from it)
"""
import os
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE, trustworthiness
from sklearn.manifold._t_sne import _joint_probabilities
from sklearn.metrics import pairwise_distances
from sklearn.svm import LinearSVC

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

PAD_C = [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0]


def main(out_dir):
    rng = np.random.RandomState(12)
    digits = load_digits()
    idx = rng.permutation(len(digits.data))[:300]
    x = (digits.data[idx] / 16.0 + rng.uniform(0, 0.01, size=(300, 64))).astype(np.float32)

    d2 = pairwise_distances(x.astype(np.float64), squared=True)
    p = _joint_probabilities(d2, 30.0, 0)  # condensed upper triangle
    from scipy.spatial.distance import squareform
    p_full = squareform(p)

    ts = TSNE(n_components=2, perplexity=30.0, method="exact", init="pca", learning_rate="auto",
              random_state=0)
    y = ts.fit_transform(x).astype(np.float32)

    xc = x.astype(np.float64) - x.astype(np.float64).mean(axis=0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    proj = xc @ vt[:3].T
    var = s[:3] ** 2 / (len(x) - 1)
    x40 = x[:40].astype(np.float64) - x[:40].astype(np.float64).mean(axis=0)
    _, s40, vt40 = np.linalg.svd(x40, full_matrices=False)
    proj40 = x40 @ vt40[:3].T

    meta = {
        "trust_tsne_k5": repr(float(trustworthiness(x, y, n_neighbors=5))),
        "trust_tsne_k12": repr(float(trustworthiness(x, y, n_neighbors=12))),
        "trust_pca_k5": repr(float(trustworthiness(x, proj[:, :2].astype(np.float32), n_neighbors=5))),
        "kl_tsne": repr(float(ts.kl_divergence_)),
        "made_by": "tools/make_viz_fixtures.py",
    }

    # proxy A-distance: source N(0, I), target N(0.2, I) in 60 dimensions, split in half (so
    # few examples per dimension that a large C overfits and the error depends on C)
    prng = np.random.RandomState(7)
    xs = prng.normal(0, 1, size=(150, 60))
    xt = prng.normal(0.2, 1, size=(150, 60))
    xall = np.vstack([xs, xt]).astype(np.float32)
    yall = np.array([0] * 150 + [1] * 150, dtype=np.int32)
    perm = prng.permutation(300)
    tr, te = perm[:150], perm[150:]
    errs = []
    for c in PAD_C:
        clf = LinearSVC(penalty="l2", loss="squared_hinge", dual=False, tol=1e-8, C=c,
                        max_iter=100000)
        clf.fit(xall[tr].astype(np.float64), yall[tr])
        errs.append(float(np.mean(clf.predict(xall[te].astype(np.float64)) != yall[te])))
    meta["pad_err_repr"] = " ".join(repr(e) for e in errs)

    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    tensors = {
        "tsne_x": t(x),
        "tsne_p_rows": t(p_full[:20].astype(np.float32)),
        "tsne_y": t(y),
        "pca_y": t(proj.astype(np.float32)),
        "pca_var": t(var.astype(np.float32)),
        "pca40_y": t(proj40.astype(np.float32)),
        "pad_xtr": t(xall[tr]),
        "pad_ytr": t(yall[tr]),
        "pad_xte": t(xall[te]),
        "pad_yte": t(yall[te]),
        "pad_c": t(np.array(PAD_C, dtype=np.float32)),
        "pad_err": t(np.array(errs, dtype=np.float32)),
    }
    path = os.path.join(out_dir, "sklearn_viz.safetensors")
    st.save(tensors, path, meta)
    print("wrote", path, {k: meta[k] for k in meta if k != "made_by"})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
