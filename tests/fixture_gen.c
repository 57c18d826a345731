/* fixture_gen.c - the deterministic generator of fixture_gen.h (mirrors u() in
 * tools/make_fixtures.py). */
#include <math.h>
#include "fixture_gen.h"

float fixture_u(uint64_t seed, uint64_t i) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ULL + (i + 1) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (float)(z >> 40) / 16777216.0f;
}

void fixture_uniform(float *x, size_t n, uint64_t seed, int fan_in) {
    const float bound = (float)(1.0 / sqrt((double)fan_in));
    for (size_t i = 0; i < n; i++) x[i] = (2.0f * fixture_u(seed, i) - 1.0f) * bound;
}

void fixture_images(float *x, size_t n, uint64_t seed, float mean, float std) {
    for (size_t i = 0; i < n; i++) x[i] = (fixture_u(seed, i) - mean) / std;
}

void fixture_labels(int32_t *y, size_t n, uint64_t seed, int n_classes) {
    for (size_t i = 0; i < n; i++) y[i] = (int32_t)floor((double)fixture_u(seed, i) * n_classes);
}
