#!/usr/bin/env python3
"""tools/scaling_model.py - the model of N-node data-parallel scaling in docs/SCALING.md.

A step on N ranks (one rank per node) takes

    t(N) = (Tc - G/M) * ceil(K/N) / K  +  G / M  +  (N-1)/N * G / BW  +  m * (N-1) * alpha

Tc     the step's compute in one process with the run's chunks (measured: CPU time per step at
       1 thread, tools/measure_scaling.sh, config 1x1-chunk16); a rank computes its chunks,
       at most ceil(K/N) of the K chunks per pass
G      bytes gathered per step (counted: DANN_MPI_STATS=1); every rank adds all K partials in
       chunk order, reading G bytes at M bytes/s (assumed 10 GB/s: one core streaming), a part
       of Tc that every rank repeats
BW     the network: 10 Gbit/s = 1.25e9 B/s, 100 Gbit/s = 12.5e9 B/s; each rank receives the
       (N-1)/N of G it does not hold (a ring all-gather)
m      all-gathers per step (counted), each paying N-1 latencies alpha (assumed 50 us on
       10 Gbit/s Ethernet with TCP, 5 us on a 100 Gbit/s RDMA network)
Nothing overlaps: the all-gathers sit inside the step, between the layers.

usage: tools/scaling_model.py [TC_PY3 TC_SVHN]   (seconds; prints the Markdown tables)
"""
import math

# name, Tc (s), K, G (bytes), m, the source of Tc
NETS = [
    ("py3, 128 + 128, chunk 16", 0.0, 8, 13679144, 47),
    ("paper-svhn, 64 + 64, chunk 16", 0.0, 4, 312523112, 23),
]
M = 10e9
LINKS = [("10 Gbit/s", 1.25e9, 50e-6), ("100 Gbit/s", 12.5e9, 5e-6)]


def step(tc, k, g, m, n, bw, alpha):
    comp = (tc - g / M) * math.ceil(k / n) / k + g / M
    ex = (n - 1) / n * g / bw + m * (n - 1) * alpha if n > 1 else 0.0
    return comp, ex


def table(name, tc, k, g, m):
    print(f"**{name}** (Tc = {tc * 1e3:.0f} ms, K = {k}, G = {g / 1e6:.1f} MB, {m} all-gathers)\n")
    print("| N | compute per rank (ms) | " + " | ".join(
        f"exchange at {l} (ms) | step at {l} (ms) | speed-up" for l, _, _ in LINKS) + " |")
    print("|---|---|" + "---|---|---|" * len(LINKS))
    t1 = step(tc, k, g, m, 1, 1, 0)[0]
    for n in [1, 2, 4, 8, 16]:
        if n > k and n != 16:
            continue
        comp, _ = step(tc, k, g, m, n, 1, 0)
        cells = []
        for _, bw, alpha in LINKS:
            c, e = step(tc, k, g, m, n, bw, alpha)
            cells.append(f"{e * 1e3:.1f} | {(c + e) * 1e3:.0f} | {t1 / (c + e):.2f}x")
        note = " (ranks beyond K hold no chunk)" if n > k else ""
        print(f"| {n}{note} | {comp * 1e3:.0f} | " + " | ".join(cells) + " |")
    print()


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3:  # Tc of py3 and paper-svhn in seconds
        NETS[0] = (NETS[0][0], float(sys.argv[1])) + NETS[0][2:]
        NETS[1] = (NETS[1][0], float(sys.argv[2])) + NETS[1][2:]
    for net in NETS:
        table(*net)
