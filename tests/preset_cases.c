/* preset_cases.c - the case table and input generator of preset_cases.h. */
#include <string.h>
#include "fixture_gen.h"
#include "preset_cases.h"

const preset_case PRESET_CASES[] = {
    {"paper_mnist", "paper-mnist", "paper", 8, 1, 0.0f, 6},
    {"paper_svhn", "paper-svhn", "paper", 4, 0, 0.0f, 4},
    {"paper_gtsrb", "paper-gtsrb", "paper", 4, 0, 0.0f, 4},
    {"shallow", "shallow", "shallow", 1, 0, 0.0f, 5},
    {"user_img", USER_IMG, "paper", 6, 1, 0.0f, 5},
    {"user_vec", USER_VEC, "shallow", 6, 0, 0.6f, 5},
};

void preset_input(float *x, const preset_case *pc, int B, int C, size_t plane, uint64_t seed, int grey) {
    const size_t per = (size_t)C * plane;
    if (grey) {
        fixture_images(x, (size_t)B * plane, seed, 0.5f, 0.5f);
        for (int b = B - 1; b >= 0; b--)
            for (int c = C - 1; c >= 0; c--)
                memmove(x + (size_t)b * per + (size_t)c * plane, x + (size_t)b * plane, plane * sizeof(float));
        return;
    }
    fixture_images(x, (size_t)B * per, seed, 0.5f, 0.5f);
    if (pc->sparsity > 0)
        for (size_t k = 0; k < (size_t)B * per; k++)
            if (!(fixture_u(seed + 7, k) >= pc->sparsity)) x[k] = 0.0f;
}

_Static_assert(sizeof PRESET_CASES / sizeof *PRESET_CASES == N_PRESET_CASES, "N_PRESET_CASES");
