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
c_run() {
    build/dann train --preset py3 --mode "$1" --epochs "$epochs" --seed "$seed" --threads "$threads" \
        --source "mnist:$data/mnist" --target "mnistm:$data" --progress lines \
        --out "$out/c-$1" > "$out/c-$1.log" 2>&1
}
torch_run() {
    /usr/bin/python3 tools/dann_torch.py train --mode "$1" --epochs "$epochs" --seed "$seed" \
        --threads "$threads" --data "$data" --out "$out/torch-$1" > "$out/torch-$1.log" 2>&1
}
c_run dann
torch_run dann
c_run source-only
c_run target-only
torch_run source-only
torch_run target-only
echo "done: $out"
