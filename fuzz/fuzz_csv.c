/* fuzz_csv.c - libFuzzer target: the CSV reader (vec_load_mem) on arbitrary bytes must return a
 * status without crashing or leaking; the first byte picks header=auto|yes|no and
 * label=first|last|none|y, and a file that loads goes through the batches (fuzz_vec.h). Seeds:
 * fuzz/corpus/csv. */
#include "fuzz_vec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_vec_run(VEC_CSV, data, size);
    return 0;
}
