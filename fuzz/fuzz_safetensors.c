/* fuzz_safetensors.c - libFuzzer target: the safetensors parser (st_parse: the 8-byte length,
 * the JSON header, dtypes, shapes, offsets, metadata) on arbitrary bytes in memory, and the
 * strict import of what it accepts into a small model (interchange_load: names, dtypes, shapes
 * against the tensor table), as `dann import` does. Seeds: fuzz/make_corpus.c (exports of the
 * model below). */
#include <stdlib.h>
#include "dann.h"
#include "io/interchange.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The network of the seeds (fuzz/make_corpus.c writes its export). */
#define FUZZ_ST_NET "in 1x6x6; features: conv(2,3) bn maxpool(2) relu; class: fc(4) bn relu fc(3); domain: fc(2)"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static dann_model *m;
    dann_error err;
    if (!m && dann_model_new(&m, FUZZ_ST_NET, 1, 2, &err) != DANN_OK) abort();
    st_file f;
    if (st_parse(&f, data, size, "fuzz.safetensors", &err) == DANN_OK) {
        for (int i = 0; i < f.n; i++) st_find(&f, f.t[i].name);
        st_meta_get(&f, "format");
        interchange_load(m, &f, "fuzz.safetensors", &err);
        st_free(&f);
    }
    return 0;
}
