/* fxcheck.h - reading PyTorch fixtures in the layer tests: tensors named "<case>.<what>" in a
 * safetensors file, checked for dtype and size, and comparisons that print their worst error. */
#ifndef DANN_FXCHECK_H
#define DANN_FXCHECK_H

#include <stddef.h>
#include "io/safetensors.h"

/* Reads the fixture at path (a test failure naming `make fixtures` when it cannot). */
int fx_open(st_file *f, const char *path);
/* The tensor "<c>.<what>" of the fixture at path, checked for dtype (and element count when
 * n > 0); NULL, with a test failure, when it is missing or different. */
const st_tensor *fx_get(const st_file *f, const char *path, const char *c, const char *what,
                        st_dtype dt, size_t n);
const float *fx_f32(const st_file *f, const char *path, const char *c, const char *what, size_t n);
/* Zeroed floats (aborts when out of memory). */
float *fx_zeros(size_t n);
/* |got - want| <= atol + rtol |want| element-wise, printing the worst |a-b| under "c what". */
void fx_cmp(const char *c, const char *what, const float *got, const float *want, size_t n,
            double atol, double rtol);
/* The same after a second accumulating backward: got must be 2 * want. */
void fx_cmp2(const char *c, const char *what, const float *got, const float *want, size_t n,
             double atol, double rtol);

#endif
