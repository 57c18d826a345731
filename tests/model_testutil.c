/* model_testutil.c - the helpers of model_testutil.h. */
#include "model_testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int verbose(void) {
    const char *v = getenv("DANN_FD_VERBOSE");
    return v && *v && *v != '0';
}

void *xmalloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) { fprintf(stderr, "model tests: out of memory\n"); abort(); }
    return p;
}


void synth_images(float *x, int B, int C, int H, int W, int salt) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    int k = b * 131 + c * 17 + salt * 7;
                    float v = sinf(0.37f * (float)(i + k) + 0.23f * (float)(j * (1 + c))) +
                              0.5f * cosf(0.11f * (float)(i * j) + (float)k);
                    x[(((size_t)b * C + c) * H + i) * W + j] = v;
                }
}

void synth_labels(int32_t *y, int B, int salt, int n_classes) {
    for (int b = 0; b < B; b++) y[b] = (b * 3 + salt) % n_classes;
}
