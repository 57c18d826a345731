/* recipe.c - the presets' loop defaults and the paper's mean-subtraction preprocessing
 * (recipe.h; the reasons for each value are in docs/RECIPES.md). */
#include <string.h>
#include "cli/recipe.h"

static const recipe RECIPES[] = {
    /* fungtion/DANN_py3: 100 epochs of 128 + 128, its own normalisation */
    {"py3", "py3", 128, 100, 0, 0, RECIPE_NORM_REF},
    /* JMLR 5.2.2: 64 + 64, mean subtraction; the paper gives no run length (RECIPES.md) */
    {"paper", "paper-mnist", 64, 30, 0, 0, RECIPE_NORM_MEAN},
    /* JMLR Algorithm 1 / 5.1: one source and one target example a step, early stopping on a
     * tenth of the source (the 90/10 split of section 4.4) */
    {"shallow", "shallow", 1, 100, 10, 10, RECIPE_NORM_REF},
};

const recipe *recipe_find(const char *preset) {
    for (size_t i = 0; i < sizeof RECIPES / sizeof *RECIPES; i++)
        if (!strcmp(RECIPES[i].name, preset)) return &RECIPES[i];
    return NULL;
}

const char *recipe_names(void) { return "py3, paper, shallow"; }

void recipe_mean_subtract(dataset *train, dataset **others, int n_others, float *mean_out) {
    const size_t plane = (size_t)train->h * train->w;
    float mean[3] = {0, 0, 0};
    for (int c = 0; c < train->c && c < 3; c++) {
        /* a histogram per channel keeps the sum exact (integers) and the pass cheap */
        uint64_t hist[256] = {0};
        for (int i = 0; i < train->n; i++) {
            const uint8_t *p = train->pix + ((size_t)i * train->c + c) * plane;
            for (size_t k = 0; k < plane; k++) hist[p[k]]++;
        }
        double s = 0, n = 0;
        for (int v = 0; v < 256; v++) s += (double)v * (double)hist[v], n += (double)hist[v];
        mean[c] = n > 0 ? (float)(s / n / 255.0) : 0.0f;
    }
    if (train->c == 1) mean[1] = mean[2] = mean[0];
    for (int c = 0; c < 3; c++) {
        train->mean[c] = mean[c], train->std[c] = 1.0f;
        for (int k = 0; k < n_others; k++)
            if (others[k]) others[k]->mean[c] = mean[c], others[k]->std[c] = 1.0f;
        if (mean_out) mean_out[c] = mean[c];
    }
}
