/* fixture_gen.h - the deterministic generator shared with tools/make_fixtures.py, so that a
 * fixture need not store initial weights or inputs: both sides compute them from a counter-based
 * hash (splitmix64's finaliser over seed and index). Every value is exact in float32 and every
 * formula is a fixed sequence of float32 operations, so C and numpy agree bit for bit. */
#ifndef DANN_FIXTURE_GEN_H
#define DANN_FIXTURE_GEN_H

#include <stddef.h>
#include <stdint.h>

/* u(seed, i) in [0, 1): z = seed*0x9E3779B97F4A7C15 + (i+1)*0xBF58476D1CE4E5B9 (mod 2^64);
 * z = (z ^ z>>30) * 0xBF58476D1CE4E5B9; z = (z ^ z>>27) * 0x94D049BB133111EB; z ^= z>>31;
 * u = float(z >> 40) / 2^24. */
float fixture_u(uint64_t seed, uint64_t i);

/* x[i] = (2*u(seed, i) - 1) * bound, bound = float(1/sqrt(fan_in)): torch's default init range
 * for conv/linear weights and biases. */
void fixture_uniform(float *x, size_t n, uint64_t seed, int fan_in);

/* x[i] = (u(seed, i) - mean) / std in float32 (mean, std given as float constants). */
void fixture_images(float *x, size_t n, uint64_t seed, float mean, float std);

/* y[i] = floor(double(u(seed, i)) * n_classes). */
void fixture_labels(int32_t *y, size_t n, uint64_t seed, int n_classes);

#endif
