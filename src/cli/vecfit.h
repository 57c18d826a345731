/* vecfit.h - the commands' side of feature-vector data (csv:, svmlight:; data/vec.h): every
 * data spec of a run must suit the network (vectors for a vector network, images otherwise),
 * the files share one feature dimension D, and their labels fit the class head. */
#ifndef DANN_CLI_VECFIT_H
#define DANN_CLI_VECFIT_H

#include "data/data.h"
#include "dann.h"

/* 0 when each of the n specs (NULL and split:F entries skipped) is a vector spec exactly when
 * net_vec;
 * otherwise prints one line "dann CMD: SPEC: ..." naming the network and returns 2. */
int vecfit_kinds(const char *cmd, int net_vec, const char *const *specs, int n, const char *net);

/* vecfit_kinds, and for a vector network no normalisation choice (norm_given: 0, or 1 / 2 for
 * --source-norm / --target-norm on the command line): feature vectors are used as given. */
int vecfit_check_run(const char *cmd, int net_vec, const char *const *specs, int n,
                     const char *net, int norm_given);

/* The common feature dimension of the n datasets (NULL entries skipped): D_fixed when > 0 (the
 * network's input, or --input D), else the largest file dimension (a sparse file's highest
 * index + 1, a CSV file's feature columns). Each dataset takes it (vec_set_dim): a sparse file
 * with an index >= D or a CSV file with another number of columns is an error naming it. */
dann_status vecfit_dim(dataset *const *ds, int n, int D_fixed, int *D, dann_error *err);

/* Fits the n datasets to one dimension (vecfit_dim) and gives the network in net (cap bytes, a
 * vector preset's description) that input; *D receives it. */
dann_status vecfit_net(dataset *const *ds, int n, int D_fixed, char *net, size_t cap, int *D,
                       dann_error *err);

/* --input for the preset arch: CxHxW for an image network, D for a vector one. Returns 0 (c, h,
 * w set; h = w = 1 for a vector) or 2 after printing the usage error. */
int vecfit_parse_input(const char *cmd, const char *arch, const char *input, int *c, int *h,
                       int *w);

/* Every dataset's labels must be classes of an n_classes-way head (a test file holding a class
 * the network lacks would otherwise go uncounted). */
dann_status vecfit_classes(dataset *const *ds, int n, int n_classes, const char *net,
                           dann_error *err);

/* "D features from the data (highest index over ...)" style line for the run's output. */
void vecfit_print(dataset *const *ds, int n, int D, int D_fixed, int quiet);

#endif
