"""compare.py - `make bench-compare`: dann (C) against the PyTorch twin on this machine, in one go.

Runs, alternately and for several rounds so that drifting machine load hits both sides alike:
  C         build/dann bench --json, once per kernel set in --kernels (DANN_KERNELS; default the
            CPU's own choice) and OPENBLAS_CORETYPE in --coretypes that this CPU supports (the
            others are skipped, saying so; they only matter to the BLAS kernels and dann's sgemm
            figure)
  torch A   tools/dann_torch.py bench as installed
  torch B   A + GLIBC_TUNABLES (large mmap/trim thresholds: malloc stops returning memory)
  torch C   B + the OpenMP build of OpenBLAS for its BLAS calls (LD_LIBRARY_PATH)
and prints the machine's ISA, the medians over rounds, the ratios torch/C (> 1 means dann is
faster) and how close dann's step is to the arithmetic bound at the FMA peak measured by
`dann bench` (the step's FLOPs / that peak, in the ISA of the kernels it runs).
--isa avx2 measures an AVX2 machine's case on an AVX-512 one: dann runs DANN_KERNELS=avx2 (its
FMA peak then AVX2's) and PyTorch runs with ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2
and OPENBLAS_CORETYPE=Haswell (no AVX-512 in its kernels either); caches, memory and clock
stay the machine's own.
Usage: /usr/bin/python3 bench/compare.py [--threads 2 1] [--rounds 3] [--steps 30]
       [--kernels auto avx2 ...] [--isa avx2] [--json OUT]
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


# OpenBLAS core types and the CPU flags each one needs (a core type the CPU lacks crashes OpenBLAS).
CORETYPE_NEEDS = {"Haswell": {"avx2", "fma"}, "Zen": {"avx2", "fma"}, "SkylakeX": {"avx512f"},
                  "Cooperlake": {"avx512f", "avx512_bf16"}, "Sandybridge": {"avx"}}


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def isa_line(flags):
    import platform
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if platform.machine() == "x86_64":
        isa = ("AVX-512" if "avx512f" in flags else "AVX2+FMA, no AVX-512" if {"avx2", "fma"} <= flags
               else "no AVX2")
    else:
        isa = platform.machine() + (" NEON" if "asimd" in flags else "")
    return f"{model or platform.processor()} ({isa}), {os.cpu_count()} CPUs"


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
    ap.add_argument("--coretypes", nargs="+", default=["Haswell"],
                    help="OPENBLAS_CORETYPE values for dann; those this CPU lacks are skipped")
    ap.add_argument("--kernels", nargs="+", default=None,
                    help="DANN_KERNELS values for dann (auto: its own choice); default auto, or "
                         "avx2 with --isa avx2")
    ap.add_argument("--isa", choices=["native", "avx2"], default="native",
                    help="avx2: both sides limited to AVX2+FMA (on an AVX-512 CPU)")
    ap.add_argument("--setups", nargs="+", default=["A", "B", "C"])
    ap.add_argument("--json", help="also write all raw results here")
    a = ap.parse_args()
    flags = cpu_flags()
    usable = [ct for ct in a.coretypes if CORETYPE_NEEDS.get(ct, set()) <= flags]
    for ct in a.coretypes:
        if ct not in usable:
            print(f"  OPENBLAS_CORETYPE={ct} skipped: this CPU lacks {' '.join(sorted(CORETYPE_NEEDS[ct] - flags))}")
    if not usable:
        usable = [os.environ.get("OPENBLAS_CORETYPE", "")]
    torch_env = {}
    if a.isa == "avx2":
        if not {"avx2", "fma"} <= flags:
            sys.exit("bench-compare: --isa avx2 needs a CPU with AVX2 and FMA")
        torch_env = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                     "DNNL_MAX_CPU_ISA": "AVX2", "OPENBLAS_CORETYPE": "Haswell"}
    kernels = a.kernels or (["avx2"] if a.isa == "avx2" else ["auto"])
    print(f"bench-compare on {isa_line(flags)}"
          + (": both sides limited to AVX2+FMA (--isa avx2)" if a.isa == "avx2" else ""), flush=True)
    probe = subprocess.run([sys.executable, "-c", "import torch; print([l.split(':', 1)[1].strip() for l in "
                            "torch.__config__.show().splitlines() if 'CPU capability' in l][0])"],
                           env={**os.environ, **torch_env}, capture_output=True, text=True)
    print(f"  PyTorch's CPU capability: {probe.stdout.strip() or '? (' + probe.stderr.strip()[-200:] + ')'}"
          + (", oneDNN limited to AVX2, OPENBLAS_CORETYPE=Haswell" if a.isa == "avx2" else ""), flush=True)
    dann = os.path.join(ROOT, "build", "dann")
    twin = [sys.executable, os.path.join(ROOT, "tools", "dann_torch.py"), "bench", "--json"]
    setups = {"A": dict(torch_env), "B": {"GLIBC_TUNABLES": TUNABLES, **torch_env},
              "C": {"GLIBC_TUNABLES": TUNABLES, "LD_LIBRARY_PATH": OMP_BLAS, **torch_env}}
    raw = []
    for th in a.threads:
        for r in range(a.rounds):
            for k in kernels:
                for ct in usable:
                    env = {"OPENBLAS_CORETYPE": ct} if ct else {}
                    env["DANN_KERNELS"] = "" if k == "auto" else k
                    res = run_json([dann, "bench", "--json", "--no-epoch", "--threads", str(th),
                                    "--reps", str(a.steps)], env)
                    used = res.get("conv_kernels", "?")
                    if k != "auto" and used != k:
                        sys.exit(f"bench-compare: DANN_KERNELS={k} asked, dann ran {used} (not on this CPU?)")
                    raw.append({"who": f"dann ({used}{', ' + ct if len(usable) > 1 else ''})",
                                "threads": th, "round": r, **res})
                    print(f"  [{th} thr, round {r + 1}] dann {used:10s} {ct or '-':8s} step "
                          f"{res['train_step_s'] * 1e3:7.1f} ms  eval {res['eval_images_per_s']:7.0f} img/s"
                          f"  rss {res['peak_rss_mb']:6.1f} MiB", flush=True)
            for s in a.setups:
                res = run_json(twin + ["--threads", str(th), "--steps", str(a.steps)], setups[s])
                raw.append({"who": f"torch {s}", "threads": th, "round": r, **res})
                print(f"  [{th} thr, round {r + 1}] torch {s}                 step {res['train_step_s'] * 1e3:7.1f} ms"
                      f"  eval {res['eval_images_per_s']:7.0f} img/s  rss {res['peak_rss_mb']:6.1f} MiB",
                      flush=True)
    print()
    for th in a.threads:
        rows = {}
        for x in raw:
            if x["threads"] == th:
                rows.setdefault(x["who"], []).append(x)
        keys = ("train_step_s", "eval_images_per_s", "peak_rss_mb", "bound_s", "fma_peak_gflops")
        med = {w: {k: statistics.median(v[k] for v in xs) for k in keys if all(k in v for v in xs)}
               for w, xs in rows.items()}
        print(f"{th} thread(s), medians over {a.rounds} rounds of {a.steps} steps each:")
        print(f"  {'':24s} {'step ms':>9s} {'eval img/s':>11s} {'RSS MiB':>8s}")
        for w, m in med.items():
            print(f"  {w:24s} {m['train_step_s'] * 1e3:9.1f} {m['eval_images_per_s']:11.0f} {m['peak_rss_mb']:8.1f}")
        for cw in [w for w in med if w.startswith("dann")]:
            c = med[cw]
            if "bound_s" in c:
                print(f"  {cw}: FMA peak {c['fma_peak_gflops']:.0f} GFLOP/s -> bound {c['bound_s'] * 1e3:.1f} ms; "
                      f"step {c['train_step_s'] / c['bound_s']:.2f}x the bound")
            for tw in [w for w in med if w.startswith("torch")]:
                t = med[tw]
                vs_bound = f" ({t['train_step_s'] / c['bound_s']:.2f}x the bound)" if "bound_s" in c else ""
                print(f"  {tw} / {cw}: step x{t['train_step_s'] / c['train_step_s']:.2f}{vs_bound}, "
                      f"eval x{c['eval_images_per_s'] / t['eval_images_per_s']:.2f}, "
                      f"memory x{t['peak_rss_mb'] / c['peak_rss_mb']:.2f}")
        print()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
