"""results_table.py - the Markdown rows of docs/RESULTS.md from run folders' metrics.jsonl.

Usage: python3 tools/results_table.py LABEL=RUN_DIR [LABEL=RUN_DIR ...]
For each run: source and target test accuracy after epoch 1 and after the last epoch, the best
target epoch (oracle: uses target labels, for reference only), and the median seconds per epoch
(training only; evaluation separately).
"""
import json
import statistics
import sys


def load(run):
    with open(f"{run}/metrics.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    print("| run | epochs | src acc ep 1 | tgt acc ep 1 | src acc last | tgt acc last "
          "| oracle best tgt (ep) | s/epoch train (median) | s/epoch eval |")
    print("|---|---|---|---|---|---|---|---|---|")
    for arg in sys.argv[1:]:
        label, run = arg.split("=", 1)
        m = load(run)
        first, last = m[0], m[-1]
        best = max(m, key=lambda r: r["target_test_acc"])
        print(f"| {label} | {len(m)} | {first['source_test_acc']:.4f} | {first['target_test_acc']:.4f} "
              f"| {last['source_test_acc']:.4f} | {last['target_test_acc']:.4f} "
              f"| {best['target_test_acc']:.4f} ({best['epoch']}) "
              f"| {statistics.median(r['seconds'] for r in m):.1f} "
              f"| {statistics.median(r['eval_seconds'] for r in m):.1f} |")


if __name__ == "__main__":
    main()
