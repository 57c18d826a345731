/* fuzz_mnistm.c - libFuzzer target: dataset_load("mnistm:ARCHIVE") on arbitrary archive bytes
 * (libarchive's readers, the label-file parser, name matching, PNG decoding and the in-place
 * reordering), both splits. Seeds: fuzz/corpus/mnistm/ (fuzz/make_corpus.sh). */
#include <stdio.h>
#include <unistd.h>
#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64], spec[80];
    snprintf(path, sizeof path, "/tmp/fuzz-mnistm-%d.tar", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    snprintf(spec, sizeof spec, "mnistm:%s", path);
    for (int split = DATA_TRAIN; split <= DATA_TEST; split++) {
        dataset ds;
        dann_error err;
        if (dataset_load(&ds, spec, split, 28, 28, &err) == DANN_OK) dataset_free(&ds);
    }
    unlink(path);
    return 0;
}
