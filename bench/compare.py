"""compare.py - `make bench-compare`: dann (C) against the PyTorch twin on this machine, in one go.

Runs, alternately and for several rounds so that drifting machine load hits both sides alike:
  C         build/dann bench --json (OPENBLAS_CORETYPE as in the environment, and SkylakeX too
            when --coretypes lists it)
  torch A   tools/dann_torch.py bench as installed
  torch B   A + GLIBC_TUNABLES (large mmap/trim thresholds: malloc stops returning memory)
  torch C   B + the OpenMP build of OpenBLAS for its BLAS calls (LD_LIBRARY_PATH)
and prints the medians over rounds and the ratios torch/C (> 1 means dann is faster).
Usage: /usr/bin/python3 bench/compare.py [--threads 2 1] [--rounds 3] [--steps 30] [--json OUT]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUNABLES = "glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824"
OMP_BLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"


def run_json(cmd, env_extra):
    env = dict(os.environ)
    env.update(env_extra)
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bench-compare: {' '.join(cmd)} failed ({out.returncode}): {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--coretypes", nargs="+", default=["Haswell", "SkylakeX"])
    ap.add_argument("--setups", nargs="+", default=["A", "B", "C"])
    ap.add_argument("--json", help="also write all raw results here")
    a = ap.parse_args()
    dann = os.path.join(ROOT, "build", "dann")
    twin = [sys.executable, os.path.join(ROOT, "tools", "dann_torch.py"), "bench", "--json"]
    setups = {"A": {}, "B": {"GLIBC_TUNABLES": TUNABLES},
              "C": {"GLIBC_TUNABLES": TUNABLES, "LD_LIBRARY_PATH": OMP_BLAS}}
    raw = []
    for th in a.threads:
        for r in range(a.rounds):
            for ct in a.coretypes:
                res = run_json([dann, "bench", "--json", "--no-epoch", "--threads", str(th),
                                "--reps", str(a.steps)], {"OPENBLAS_CORETYPE": ct})
                raw.append({"who": f"dann ({ct})", "threads": th, "round": r, **res})
                print(f"  [{th} thr, round {r + 1}] dann {ct:8s} step {res['train_step_s'] * 1e3:7.1f} ms"
                      f"  eval {res['eval_images_per_s']:7.0f} img/s  rss {res['peak_rss_mb']:6.1f} MiB",
                      flush=True)
            for s in a.setups:
                res = run_json(twin + ["--threads", str(th), "--steps", str(a.steps)], setups[s])
                raw.append({"who": f"torch {s}", "threads": th, "round": r, **res})
                print(f"  [{th} thr, round {r + 1}] torch {s}      step {res['train_step_s'] * 1e3:7.1f} ms"
                      f"  eval {res['eval_images_per_s']:7.0f} img/s  rss {res['peak_rss_mb']:6.1f} MiB",
                      flush=True)
    print()
    for th in a.threads:
        rows = {}
        for x in raw:
            if x["threads"] == th:
                rows.setdefault(x["who"], []).append(x)
        med = {w: {k: statistics.median(v[k] for v in xs)
                   for k in ("train_step_s", "eval_images_per_s", "peak_rss_mb")}
               for w, xs in rows.items()}
        print(f"{th} thread(s), medians over {a.rounds} rounds of {a.steps} steps each:")
        print(f"  {'':16s} {'step ms':>9s} {'eval img/s':>11s} {'RSS MiB':>8s}")
        for w, m in med.items():
            print(f"  {w:16s} {m['train_step_s'] * 1e3:9.1f} {m['eval_images_per_s']:11.0f} {m['peak_rss_mb']:8.1f}")
        for cw in [w for w in med if w.startswith("dann")]:
            c = med[cw]
            for tw in [w for w in med if w.startswith("torch")]:
                t = med[tw]
                print(f"  {tw} / {cw}: step x{t['train_step_s'] / c['train_step_s']:.2f}, "
                      f"eval x{c['eval_images_per_s'] / t['eval_images_per_s']:.2f}, "
                      f"memory x{t['peak_rss_mb'] / c['peak_rss_mb']:.2f}")
        print()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
