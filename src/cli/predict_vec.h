/* predict_vec.h - `dann predict` on csv:/svmlight: files for a feature-vector checkpoint. */
#ifndef DANN_CLI_PREDICT_VEC_H
#define DANN_CLI_PREDICT_VEC_H

#include "dann.h"

/* Prints one prediction per example of each of the n specs (text, or one JSON object when
 * json: {"model", "predictions": [{"file", "line", "label", "class", "probs"}, ...]}); names:
 * the checkpoint's class names (NULL: none, "class" is null). Returns the exit
 * status: 0, 1 (err set: a file could not be read or does not fit the network) or 2 (a spec is
 * not a vector file; the message is printed). */
int predict_vectors(dann_model *m, const char *model_path, const char *const *specs, int n,
                    int json, char *const *names, dann_error *err);

#endif
