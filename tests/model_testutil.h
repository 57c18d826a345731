/* model_testutil.h - small helpers shared by the model property tests (test_model_props.c,
 * test_model_step.c): synthetic images and labels from a fixed formula, a checked calloc, and
 * DANN_FD_VERBOSE. */
#ifndef DANN_MODEL_TESTUTIL_H
#define DANN_MODEL_TESTUTIL_H
#include <stddef.h>
#include <stdint.h>

#define IMG (3 * 28 * 28)  /* py3's input */

int verbose(void);
void *xmalloc(size_t n);
/* A fixed simple formula for images (B, C, H, W) in roughly [-1.5, 1.5]; `salt` makes
 * different batches. */
void synth_images(float *x, int B, int C, int H, int W, int salt);
void synth_labels(int32_t *y, int B, int salt, int n_classes);
#endif
