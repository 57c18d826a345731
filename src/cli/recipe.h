/* recipe.h - the training recipes behind `--preset` (docs/RECIPES.md): besides the optimizer
 * settings of dann_train_config_preset, a preset fixes the defaults of the loop around it
 * (network, batch per domain, epochs, the held-out source split, early stopping) and the input
 * preprocessing. The command line may override each of them. */
#ifndef DANN_CLI_RECIPE_H
#define DANN_CLI_RECIPE_H

#include "data/data.h"

enum { RECIPE_NORM_REF = 0, RECIPE_NORM_MEAN = 1 };

typedef struct {
    const char *name;       /* the preset: "py3", "paper", "shallow" */
    const char *arch;       /* default network */
    int batch;              /* default images per domain per step */
    int epochs;             /* default run length */
    int source_val_pct;     /* default --source-val as a percentage of the source set (0: none) */
    int patience;           /* default early-stopping patience in epochs (0: none) */
    int norm;               /* RECIPE_NORM_REF: each data kind's own (MNIST 0.1307/0.3081,
                               MNIST-M 0.5/0.5, as the reference); RECIPE_NORM_MEAN: each domain's
                               per-channel training mean of pix/255 subtracted, no scaling */
} recipe;

/* The recipe of a preset, or NULL for an unknown name. */
const recipe *recipe_find(const char *preset);
/* "py3, paper, shallow" (for messages). */
const char *recipe_names(void);

/* Mean subtraction: the per-channel mean of train's pix/255 (computed in double over every
 * image, grey images as one channel) becomes the mean of train and of each of the n_others sets
 * of the same domain (their own images are not looked at), with std 1. mean_out (3 floats, may
 * be NULL) receives it (a grey set's one mean repeated). */
void recipe_mean_subtract(dataset *train, dataset **others, int n_others, float *mean_out);

#endif
