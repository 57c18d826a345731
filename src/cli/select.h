/* select.h - model selection without target labels (`--select RULE[,RULE...]`, docs/SELECTION.md).
 *
 * After every evaluated epoch each rule scores the model; the epoch with the best score so far
 * (strictly better; the first one wins ties) is the rule's choice, written to
 * RUN_DIR/best-<rule>.ckpt (weights only). The scores go into metrics.jsonl as sel_<rule>, the
 * choices into summary.json (select_<rule>_epoch, _score, _target_test_acc, _source_test_acc)
 * and the rules' state into last.ckpt's key/value lines (select.<rule>=score,epoch,src,tgt), so
 * a resumed run goes on choosing as the uninterrupted one would. The target test labels are
 * never read here: the target accuracy of a choice is looked up afterwards, for the tables.
 *
 *   val      source-validation accuracy (higher is better): the held-out source split
 *   rev[:S]  reverse validation (JMLR 2016, 4.4 / 5.1.4; higher is better): the target selection
 *            set is labelled by the model, a copy of the model is trained S steps (default
 *            SELECT_REV_STEPS) with those as its labelled source and the source training images
 *            as its target domain, and its accuracy on the source validation split is the score
 *   dev      deep embedded validation (You et al., ICML 2019; lower is better): the
 *            importance-weighted source-validation loss with the control variate; the density
 *            ratio comes from an L2 logistic regression (liblinear) telling source features from
 *            target features
 *   ent      mean prediction entropy on the target selection set (lower is better)
 *   snd      soft neighbourhood density (Saito et al., ICCV 2021; higher is better) of the target
 *            selection set's predictions, temperature 0.05
 * val, rev and dev need the source validation split (--source-val N). The selection sets are
 * fixed for the whole run: the first n_sel images of a permutation (drawn from the run seed) of
 * the target training set and of the source training images. */
#ifndef DANN_CLI_SELECT_H
#define DANN_CLI_SELECT_H

#include <stddef.h>
#include "cli/trainloop.h"

enum { SEL_VAL = 0, SEL_REV, SEL_DEV, SEL_ENT, SEL_SND, SEL_N };
#define SELECT_REV_STEPS 100
#define SELECT_N_DEFAULT 2000
#define SND_TEMPERATURE 0.05

typedef struct {
    int on[SEL_N];
    int rev_steps;        /* rev's budget of reverse-training steps */
    int n_sel;            /* size of the selection sets */
} select_opts;

/* The rule's name ("val", ...) and direction (1: higher is better). */
const char *select_rule_name(int rule);
int select_rule_higher(int rule);
/* 1 when the rule needs the source validation split. */
int select_rule_needs_val(int rule);

/* Parses "val,rev:200,dev,ent,snd" (or "all") into o (n_sel is set to its default). */
dann_status select_parse(select_opts *o, const char *spec, dann_error *err);
/* The canonical text of o ("val,rev:100,dev,snd"). */
void select_format(char *buf, size_t cap, const select_opts *o);

typedef struct select_state select_state;
dann_status select_new(select_state **out, const select_opts *o, dann_error *err);
void select_free(select_state *s);
trainloop_ext select_ext(select_state *s);
/* A rule's choice after the run: epoch (0 = none), score, and the accuracies at that epoch. */
void select_choice(const select_state *s, int rule, int *epoch, double *score, double *src_acc,
                   double *tgt_acc);

/* ---- the scores (select_scores.c), on plain arrays ------------------------------------------ */

/* Mean entropy (nats) of the rows of softmax(logp) (n, C): -sum p log p with p = exp(logp). */
double select_entropy(const float *logp, int n, int C);
/* SND: P = exp(logp) rows L2-normalised, M = P P^T / tau with the diagonal set to -1/tau, S =
 * row softmax of M, the mean over rows of -sum S log(S + 1e-5) (the SND authors' code). */
double select_snd(const float *logp, int n, int C, double tau);
/* DEV's risk from the density ratios w and losses l of n validation examples:
 * mean(w l) + eta mean(w) - eta, eta = -cov(w l, w) / var(w) (both with n - 1). */
double select_dev_risk(const double *w, const double *loss, int n);
/* DEV's density ratios of nv validation features fv: a domain classifier (liblinear L2R_LR on
 * features standardised by the mean and std of the ns source + nt target training features;
 * C from {0.01, 0.1, 1, 10} by the log-loss on a held-out fifth: the DEV authors pick by accuracy,
 * but a density ratio needs the probabilities right) is
 * fit on fs (source) against ft (target); w_i = P(target|v_i) / P(source|v_i) * ns / nt. *C_out
 * (may be NULL) receives the chosen C. */
dann_status select_dev_weights(const float *fs, int ns, const float *ft, int nt, const float *fv,
                               int nv, int d, uint64_t seed, double *w, double *C_out,
                               dann_error *err);

/* ---- reverse validation (revval.c) ---------------------------------------------------------- */

/* The reverse-validation score of model m: the first n_t images of tgt listed in tgt_idx are
 * labelled with m's predictions; a copy of m with a fresh trainer of cfg (its mode and
 * optimizer; the learning rate constant at lr and lambda constant at `lambda`, the run's values
 * at its last step) is trained `steps` steps of
 * `batch` images, drawn with replacement from seed, with those images as its labelled source
 * and src's images src_idx[0..n_s) as its target domain (a DANN run; a source-only or
 * target-only run trains on the self-labelled images alone); the score is the copy's accuracy
 * on val. m is not changed. */
dann_status select_reverse_score(dann_model *m, const dann_train_config *cfg, float lr, float lambda,
                                 const dataset *tgt, const int32_t *tgt_idx, int n_t,
                                 const dataset *src, const int32_t *src_idx, int n_s,
                                 const dataset *val, int steps, int batch, uint64_t seed,
                                 double *score, dann_error *err);

#endif
