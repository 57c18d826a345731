#!/bin/sh
# tools/measure_scaling.sh - the measurements of docs/SCALING.md: training steps of one process
# with 2 threads against `mpirun -np 2` with 1 thread each (and one process at 1 thread, with
# and without the 2-process run's chunks of 16 examples; and 1 x 2 threads with OpenMP's idle
# threads sleeping instead of spinning: OMP_WAIT_POLICY=passive), on MNIST -> MNIST-M.
#   usage: tools/measure_scaling.sh [ARCH [BATCH [DATA]]]   (default py3 128 ../shared/data)
# Each configuration trains S1 and then S2 steps (one epoch capped by --max-steps, 100 test
# images evaluated) and prints the training seconds of metrics.jsonl and the CPU seconds of
# the whole command (/usr/bin/time); the per-step figures are the differences divided by
# S2 - S1, which removes data loading and evaluation. Configurations alternate, REPS rounds.
# DANN_MPI_STATS=1 makes the 2-process runs print the bytes their all-gathers moved.
set -e
ARCH=${1:-py3}; BATCH=${2:-128}; DATA=${3:-../shared/data}
S1=${S1:-10}; S2=${S2:-40}; REPS=${REPS:-2}
BIN=${BIN:-build/dann}
OUT=$(mktemp -d /tmp/dann-scaling.XXXXXX)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
COMMON="--arch $ARCH --batch $BATCH --source mnist:$DATA/mnist --target mnistm:$DATA --epochs 1 --eval-max 100 --quiet"
run() {  # name steps command...
    name=$1; steps=$2; shift 2
    d=$OUT/$name-$steps-$$-$(date +%s%N)
    /usr/bin/time -f "%U %S" -o $d.time "$@" $COMMON --max-steps $steps --out $d >/dev/null 2>$d.err || { cat $d.err; exit 1; }
    train=$(sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p' $d/metrics.jsonl | head -1)
    cpu=$(awk '{print $1 + $2}' $d.time)
    echo "$name $steps $train $cpu"
}
echo "# config steps train_seconds cpu_seconds   ($ARCH, batch $BATCH+$BATCH, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
for r in $(seq $REPS); do
  for s in $S1 $S2; do
    run 1x2 $s $BIN train --threads 2
    run 1x2-passive $s env OMP_WAIT_POLICY=passive $BIN train --threads 2
    run 2x1 $s mpirun -np 2 $BIN train --threads 1
    run 1x1 $s $BIN train --threads 1
    run 1x1-chunk16 $s $BIN train --threads 1 --chunk 16
  done
done
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf $OUT
