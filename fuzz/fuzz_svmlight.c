/* fuzz_svmlight.c - libFuzzer target: the svmlight/libsvm reader (vec_load_mem) on arbitrary
 * bytes must return a status without crashing or leaking; the first byte picks base=0|1 and
 * label=none, and a file that loads goes through the batches (fuzz_vec.h). Seeds:
 * fuzz/corpus/svmlight. */
#include "fuzz_vec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_vec_run(VEC_SVMLIGHT, data, size);
    return 0;
}
