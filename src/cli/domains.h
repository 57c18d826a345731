/* domains.h - a domain's data as the commands see it: loading a training set with its test set
 * (another spec, or a seeded held-out split "split:F"), the model's channel handling, the
 * normalisation choice (--source-norm / --target-norm), class matching by name, the `data:`
 * line, and what the checkpoint keeps of it for eval, predict and --resume.
 *
 * Normalisation choices (a domain's train and test sets always share one):
 *   ref        the data kind's own constants, as the reference uses them (MNIST 0.1307/0.3081,
 *              MNIST-M and folders 0.5/0.5); the py3 default, unchanged bits
 *   auto       the training set's own per-channel mean and std of pix/255 (population std,
 *              computed exactly on load; a grey set's one value repeated)
 *   mean       the training set's mean subtracted, std 1 (the paper recipe's preprocessing)
 *   M/S        given values: one mean and one std, or three each ("0.5,0.4,0.3/0.2,0.2,0.2")
 * Checkpoint key/value lines (docs/CHECKPOINT.md):
 *   norm.source=M0,M1,M2/S0,S1,S2   norm.target=...   (float32 values, %.9g: exact)
 *   classes=N  class.0=NAME ... class.N-1=NAME     (the class head's names, when known)
 *   data.source=SPEC  data.source_test=SPEC  data.target=SPEC  data.target_test=SPEC */
#ifndef DANN_CLI_DOMAINS_H
#define DANN_CLI_DOMAINS_H

#include <stdint.h>
#include "data/data.h"

enum { NORM_REF = 0, NORM_AUTO, NORM_MEAN, NORM_GIVEN };

typedef struct {
    int kind;                /* NORM_* */
    float mean[3], std[3];   /* NORM_GIVEN */
} norm_choice;

/* Parses a normalisation choice (see above); -1 when s is none of them. */
int norm_parse(norm_choice *n, const char *s);

/* "M/S" when the three channels agree, else "M0,M1,M2/S0,S1,S2", each %.*g with `digits`. */
void norm_format(char *buf, size_t cap, const float mean[3], const float std[3], int digits);

/* Applies choice n, resolved on train, to train and test (either may be NULL for test). */
void norm_apply(const norm_choice *n, dataset *train, dataset *test);

/* A domain's sets: train (always), test (when test_spec is given: a spec, or "split:F" for a
 * seeded fraction F of train held out, 0 < F < 1). role: "source" or "target" (the sets are
 * named role, role-test). C: the model's input channels (RGB becomes grey for C = 1). seed: the
 * run's (the split and the test sample draw streams of it). eval_max > 0: a folder's test set
 * (or a split) is cut to a seeded sample of that many images. Prints the data: lines unless
 * quiet; errors name the spec. */
typedef struct {
    dataset train, test;
    int has_test;
} domain_sets;
dann_status domain_load(domain_sets *d, const char *role, const char *spec, const char *test_spec,
                        int C, int H, int W, uint64_t seed, int eval_max, dann_error *err);
void domain_free(domain_sets *d);

/* The data: line of a loaded set: its name, size, classes, the resize and channel handling, the
 * normalisation (norm_word: "ref", "auto", ... or "stored") and the spec. */
void domain_print(const dataset *ds, const char *spec, int C, int H, int W, const char *norm_word,
                  double seconds);

/* Maps ds's labels onto the reference names (ref_names may be NULL when unnamed), printing a
 * note when ds lacks some classes. A class of ds that the reference lacks is an error naming
 * both specs. */
dann_status domain_match(dataset *ds, const char *spec, const char *const *ref_names, int ref_n,
                         const char *ref_what, int quiet, dann_error *err);

/* The data a checkpoint keeps: the class names, each domain's normalisation and the specs the
 * run read (specs: source, source test, target, target test; NULL entries are left out; a spec
 * that cannot be a kv value is left out too), as kv lines. */
dann_status domain_kv_put(char *kv, const dataset *labelled, const dataset *src,
                          const dataset *tgt, const char *const specs[4], dann_error *err);
/* Which domain's normalisation suits data `spec` for a checkpoint's kv: the domain whose stored
 * spec (training or test) it is, else the one domain whose data kind (prefix) it shares, else
 * the target. Returns "source" or "target". */
const char *domain_kv_guess(const char *kv, const char *spec);
/* The stored normalisation of `role` ("source" or "target"); 0 when the checkpoint has none. */
int domain_kv_norm(const char *kv, const char *role, float mean[3], float std[3]);
/* The stored class names: *names (one allocation, free()) and *n; 0 when there are none. */
int domain_kv_classes(const char *kv, char ***names, int *n);

/* --eval-max and eval --max: a seeded sample of a folder's images instead of its first ones
 * (mnist:/mnistm: test sets are not sorted by class and keep their first n). */
int domain_spec_is_sorted(const char *spec);

#endif
