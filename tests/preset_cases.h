/* preset_cases.h - the networks checked against PyTorch one by one: every preset but py3 (which
 * has its own fixtures) and two user descriptions exercising every layer option, in the order of
 * tools/make_preset_fixtures.py's CASES (case c uses the seeds 10000 (c + 1) + ... there). */
#ifndef DANN_PRESET_CASES_H
#define DANN_PRESET_CASES_H

#include <stddef.h>
#include <stdint.h>

/* Strided and padded convolutions, a padded overlapping max-pool with no ReLU after it (its
 * padding must never win), the fused BatchNorm-dropout2d-pool-ReLU pattern, BatchNorm, sigmoid,
 * dropout and dropout2d, a non-square input. */
#define USER_IMG "in 3x24x32; features: conv(8,3,stride=2,pad=1) bn maxpool(3,stride=2,pad=1) " \
    "conv(12,3,pad=1) bn dropout2d(0.5) maxpool(2) relu conv(16,2) bn relu dropout2d(0.25); "    \
    "class: fc(24) bn sigmoid dropout(0.5) fc(5); "                                               \
    "domain: fc(16) relu dropout(0.3) fc(12) bn relu fc(2)"
/* A vector network fed sparse batches: its first fc (22 wide: 4-row blocks and a remainder) runs
 * on CSR input; BatchNorm1d, dropout, dropout2d on a vector (element-wise, as torch 1.13). */
#define USER_VEC "in 40; features: fc(22) bn sigmoid dropout(0.5) fc(16) relu; "                 \
    "class: fc(12) relu dropout(0.25) fc(3); domain: fc(8) bn relu dropout2d(0.5) fc(2)"

typedef struct {
    const char *name, *arch, *recipe;  /* fixture name, preset or description, --preset recipe */
    int B, grey;         /* batch per domain; 1: the source batch is grey (one channel repeated) */
    float sparsity;      /* vectors: the fraction of zeros (fed as CSR when > 0) */
    int BE;              /* eval batch */
} preset_case;

extern const preset_case PRESET_CASES[];
#define N_PRESET_CASES 6

/* The generated inputs of tools/make_preset_fixtures.py: B examples of C planes of `plane`
 * values, (u(seed, i) - 0.5) / 0.5 (fixture_gen.h); vectors zero where u(seed + 7, i) <
 * pc->sparsity. grey: one plane per example is generated and repeated over the C channels. */
void preset_input(float *x, const preset_case *pc, int B, int C, size_t plane, uint64_t seed, int grey);

#endif
