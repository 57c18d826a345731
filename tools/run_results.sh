#!/usr/bin/env bash
# run_results.sh - the training runs behind docs/RESULTS.md, one after another (never two at a
# time, so each run's seconds per epoch are its own): dann (C) in the three modes, then the
# PyTorch twin in the same modes, all MNIST -> MNIST-M, preset py3, same epochs, seed, threads.
# Usage: tools/run_results.sh OUT_DIR [EPOCHS] [THREADS] [SEED]
set -euo pipefail
out=${1:?usage: tools/run_results.sh OUT_DIR [EPOCHS] [THREADS] [SEED]}
epochs=${2:-10}
threads=${3:-2}
seed=${4:-1}
data=${DANN_DATA:-../shared/data}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
mkdir -p "$out"
for mode in dann source-only target-only; do
    build/dann train --preset py3 --mode "$mode" --epochs "$epochs" --seed "$seed" --threads "$threads" \
        --source "mnist:$data/mnist" --target "mnistm:$data" --progress lines \
        --out "$out/c-$mode" > "$out/c-$mode.log" 2>&1
done
for mode in dann source-only target-only; do
    /usr/bin/python3 tools/dann_torch.py train --mode "$mode" --epochs "$epochs" --seed "$seed" \
        --threads "$threads" --data "$data" --out "$out/torch-$mode" > "$out/torch-$mode.log" 2>&1
done
echo "done: $out"
