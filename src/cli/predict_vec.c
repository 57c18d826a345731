/* predict_vec.c - `dann predict` for a feature-vector checkpoint: every example of each csv: or
 * svmlight: file given, with its predicted class and class probabilities (cmd_predict.c hands
 * over when the checkpoint's network takes vectors). Every file is read and checked against
 * the network (its dimension) before anything is printed, so a bad file fails the command with
 * no partial output. Sparse files stay sparse up to the first layer (data_batch). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli/cli.h"
#include "cli/json_out.h"
#include "cli/predict_vec.h"
#include "cli/vecfit.h"
#include "data/vec.h"

static void print_one(int json, int first, const char *spec, const dataset *ds, int i,
                      const float *lp, int NC, char *const *names) {
    int best = 0;
    for (int k = 1; k < NC; k++)
        if (lp[k] > lp[best]) best = k;
    if (json) {
        printf("%s{\"file\": ", first ? "" : ", ");
        json_string(stdout, spec);
        printf(", \"line\": %d, \"label\": %d, \"class\": ", ds->vec->line[i], best);
        if (names) json_string(stdout, names[best]);
        else printf("null");
        printf(", \"probs\": [");
        for (int k = 0; k < NC; k++) printf("%s%.9g", k ? ", " : "", exp((double)lp[k]));
        printf("]}");
    } else {
        printf("%s:%d  label %d", ds->vec->path, ds->vec->line[i], best);
        if (names) printf(" (%s)", names[best]);
        printf("  p %.4f  probs", exp((double)lp[best]));
        for (int k = 0; k < NC; k++) printf(" %.4f", exp((double)lp[k]));
        printf("\n");
    }
}

int predict_vectors(dann_model *m, const char *model_path, const char *const *specs, int n,
                    int json, char *const *names, dann_error *err) {
    int C, H, W, NC;
    dann_model_shape(m, &C, &H, &W, &NC);
    if (vecfit_kinds("predict", 1, specs, n, dann_model_description(m))) return 2;
    dataset *ds = calloc((size_t)n, sizeof *ds);
    float *logp = NULL;
    data_batch b = {0};
    int rc = 1, cap = dann_model_max_batch(m), most = 0;
    int32_t *idx = dann_calloc((size_t)cap, sizeof *idx, err);
    if (!ds || !idx) {
        if (!ds) dann_fail(err, DANN_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int f = 0; f < n; f++) {
        if (dataset_load(&ds[f], specs[f], DATA_TEST, 1, 1, err) || vec_set_dim(&ds[f], C, err))
            goto done;
        if (ds[f].n > most) most = ds[f].n;
    }
    if (!(logp = dann_calloc((size_t)most * NC, sizeof *logp, err))) goto done;
    if (json) {
        printf("{\"model\": ");
        json_string(stdout, model_path);
        printf(", \"predictions\": [");
    }
    for (int f = 0, first = 1; f < n; f++) {
        if (data_batch_init(&b, &ds[f], cap, C, dann_model_input_is_vector(m) == 2, err))
            goto done;
        for (int s = 0; s < ds[f].n; s += cap) {
            const int B = ds[f].n - s < cap ? ds[f].n - s : cap;
            for (int k = 0; k < B; k++) idx[k] = s + k;
            data_batch_gather(&b, NULL, &ds[f], idx, B);
            dann_model_predict_input(m, &b.in, logp + (size_t)s * NC);
        }
        data_batch_free(&b);
        for (int i = 0; i < ds[f].n; i++, first = 0)
            print_one(json, first, specs[f], &ds[f], i, logp + (size_t)i * NC, NC, names);
    }
    if (json) printf("]}\n");
    if (fflush(stdout) || ferror(stdout)) dann_fail(err, DANN_ERR_IO, "stdout: write error");
    else rc = 0;
done:
    data_batch_free(&b);
    for (int f = 0; ds && f < n; f++) dataset_free(&ds[f]);
    free(ds), free(logp), free(idx);
    return rc;
}
