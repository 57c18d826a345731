/* vecfit.c - feature-vector data against a network, for train / eval / pad / embed / predict
 * (vecfit.h). */
#include <stdio.h>
#include <string.h>
#include "cli/args.h"
#include "cli/vecfit.h"
#include "data/vec.h"

int vecfit_kinds(const char *cmd, int net_vec, const char *const *specs, int n, const char *net) {
    for (int k = 0; k < n; k++) {
        if (!specs[k] || !strncmp(specs[k], "split:", 6) ||
            vec_spec_is_vector(specs[k]) == !!net_vec)
            continue;
        if (net_vec)
            fprintf(stderr, "dann %s: %s: the network takes feature vectors (csv:FILE or "
                    "svmlight:FILE data), not images (%s)\n", cmd, specs[k], net);
        else
            fprintf(stderr, "dann %s: %s: feature vectors need a vector network (--arch shallow, "
                    "or a description starting 'in D;'), not %s\n", cmd, specs[k], net);
        return 2;
    }
    return 0;
}

int vecfit_check_run(const char *cmd, int net_vec, const char *const *specs, int n,
                     const char *net, int norm_given) {
    const int rc = vecfit_kinds(cmd, net_vec, specs, n, net);
    if (rc || !net_vec || !norm_given) return rc;
    return args_usage(cmd, "--%s-norm: feature vectors are used as given (the normalisation "
                      "choices apply to images)", norm_given == 1 ? "source" : "target");
}

dann_status vecfit_dim(dataset *const *ds, int n, int D_fixed, int *D, dann_error *err) {
    int d = D_fixed, from = -1;
    for (int k = 0; k < n && D_fixed <= 0; k++)
        if (ds[k] && ds[k]->vec && ds[k]->vec->dim > d) d = ds[k]->vec->dim, from = k;
    if (d < 1)
        return dann_fail(err, DANN_ERR_ARG, "%s: no features in the data (every row is empty)",
                         ds[0] && ds[0]->vec ? ds[0]->vec->path : "data");
    for (int k = 0; k < n; k++) {
        if (!ds[k]) continue;
        DANN_ASSERT(ds[k]->vec);
        dann_status st = vec_set_dim(ds[k], d, err);
        if (st && from >= 0 && !ds[k]->vec->sparse) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return dann_fail(err, st, "%s (the dimension of %s)", msg, ds[from]->vec->path);
        }
        if (st) return st;
    }
    *D = d;
    return DANN_OK;
}

dann_status vecfit_net(dataset *const *ds, int n, int D_fixed, char *net, size_t cap, int *D,
                       dann_error *err) {
    int NC;
    dann_status st = vecfit_dim(ds, n, D_fixed, D, err);
    if (!st) st = dann_net_info(net, &NC, NULL, NULL, NULL, NULL, err);
    if (!st && *D != NC) st = dann_net_adapt(net, cap, net, *D, 1, 1, 0, err);
    return st;
}

int vecfit_parse_input(const char *cmd, const char *arch, const char *input, int *c, int *h,
                       int *w) {
    dann_error err;
    int vec = 0, k;
    char tail;
    if (dann_net_info(arch, NULL, NULL, NULL, NULL, &vec, &err))
        return args_usage(cmd, "--arch: %s", err.msg);
    if (vec) {
        *h = *w = 1;
        if (sscanf(input, "%d%c", c, &tail) != 1 || *c < 1 || *c > VEC_MAX_DIM)
            return args_usage(cmd, "--input %s: %s takes feature vectors: expected D, the feature "
                              "dimension (1..%d)", input, arch, VEC_MAX_DIM);
        return 0;
    }
    k = sscanf(input, "%dx%dx%d%c", c, h, w, &tail);
    if (k != 3 || *c < 1 || *h < 1 || *w < 1 || *c > 4096 || *h > 65536 || *w > 65536)
        return args_usage(cmd, "--input %s: expected CxHxW, e.g. 3x32x32", input);
    return 0;
}

dann_status vecfit_classes(dataset *const *ds, int n, int n_classes, const char *net,
                           dann_error *err) {
    for (int k = 0; k < n; k++) {
        if (!ds[k] || !ds[k]->vec) continue;
        for (int i = 0; i < ds[k]->n; i++)
            if (ds[k]->y[i] >= n_classes)
                return dann_fail(err, DANN_ERR_ARG, "%s:%d: class %d, but the network has %d "
                                 "classes (%s)", ds[k]->vec->path, ds[k]->vec->line[i],
                                 ds[k]->y[i], n_classes, net);
    }
    return DANN_OK;
}

void vecfit_print(dataset *const *ds, int n, int D, int D_fixed, int quiet) {
    if (quiet) return;
    int sparse = 0;
    for (int k = 0; k < n; k++) sparse |= ds[k] && ds[k]->vec->sparse;
    printf("features: %d%s\n", D, D_fixed > 0 ? " (the network's input)"
           : sparse ? " (the highest index over the files; --input D fixes it)"
                    : " (the files' columns)");
}
