/* schedule.c - the DANN schedules (Ganin & Lempitsky 2015), p = training progress in [0, 1]:
 *   lambda_p = 2 / (1 + exp(-gamma p)) - 1          (adaptation weight, 0 -> ~1)
 *   mu_p     = mu0 / (1 + alpha p)^beta               (paper's learning-rate annealing)
 * computed in double like the reference's numpy (with detmath.h's exp and pow: the same bits on
 * every ISA), then rounded to float; and the presets' hyper-parameters (docs/RECIPES.md says
 * where each value comes from). */
#include <math.h>
#include <string.h>
#include "core/core.h"
#include "core/detmath.h"

float dann_lambda_schedule(double p, double gamma) {
    return (float)(2.0 / (1.0 + det_exp(-gamma * p)) - 1.0);
}

float dann_lr_schedule(double lr0, double p, double alpha, double beta) {
    return (float)(lr0 / det_pow(1.0 + alpha * p, beta));
}

dann_status dann_train_config_preset(dann_train_config *cfg, const char *preset, dann_error *err) {
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = DANN_MODE_DANN;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    cfg->eps = 1e-8;
    cfg->gamma = 10.0;
    cfg->lambda_max = 1.0;
    cfg->lr_alpha = 10.0;
    cfg->lr_beta = 0.75;
    if (strcmp(preset, "py3") == 0) {
        cfg->optimizer = DANN_OPT_ADAM;  // fungtion/DANN_py3: Adam(lr=1e-3), constant lr
        cfg->lr = 1e-3;
        cfg->lr_schedule = 0;
    } else if (strcmp(preset, "paper") == 0) {
        cfg->optimizer = DANN_OPT_SGD;   // Ganin & Lempitsky: SGD momentum 0.9, mu_p annealing
        cfg->lr = 0.01;
        cfg->momentum = 0.9;
        cfg->lr_schedule = 1;
    } else if (strcmp(preset, "shallow") == 0) {
        cfg->optimizer = DANN_OPT_SGD;   // JMLR Algorithm 1: plain SGD, constant mu and lambda
        cfg->lr = 1e-3;                  // section 5.1.3's mu
        cfg->momentum = 0.0;
        cfg->lr_schedule = 0;
        cfg->lambda_max = 0.1;           // inside 5.1.3's grid [0.01, 1] (docs/RECIPES.md)
        cfg->lambda_schedule = 1;
        cfg->domain_lambda = 1;          // Algorithm 1: u <- u + mu*lambda*(...), d likewise
    } else {
        return dann_fail(err, DANN_ERR_ARG, "unknown preset '%s' (expected py3, paper or shallow)",
                         preset);
    }
    return DANN_OK;
}
