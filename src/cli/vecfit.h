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

/* The common feature dimension of the n datasets (NULL entries skipped): D_fixed when > 0 (the
 * network's input, or --input D), else the largest file dimension (a sparse file's highest
 * index + 1, a CSV file's feature columns). Each dataset takes it (vec_set_dim): a sparse file
 * with an index >= D or a CSV file with another number of columns is an error naming it. */
dann_status vecfit_dim(dataset *const *ds, int n, int D_fixed, int *D, dann_error *err);

/* Every dataset's labels must be classes of an n_classes-way head (a test file holding a class
 * the network lacks would otherwise go uncounted). */
dann_status vecfit_classes(dataset *const *ds, int n, int n_classes, const char *net,
                           dann_error *err);

/* "D features from the data (highest index over ...)" style line for the run's output. */
void vecfit_print(dataset *const *ds, int n, int D, int D_fixed, int quiet);

#endif
