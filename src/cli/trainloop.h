/* trainloop.h - the epoch loop of `dann train`, shared by `dann demo` (and later `dann bench`).
 *
 * Epochs follow the PyTorch reference (tools/dann_torch.py `train`, docs/TWIN.md):
 *   - steps per epoch S = min(ceil(n_src/B), ceil(n_tgt/B)) in every mode (so source-only and
 *     target-only runs line up with DANN runs), capped by max_steps when it is > 0;
 *   - at the start of each epoch both index permutations are drawn afresh from the data RNG,
 *     source first, then target (each from the identity order of its training indices);
 *   - step i takes perm[i*B, min((i+1)*B, n)): the last batch of the shorter domain is partial
 *     (drop_last=False), e.g. 121 MNIST-M images at 59001;
 *   - progress p = (i + epoch*S) / epochs / S, in double and in that order (the reference's
 *     float(i + epoch*steps) / epochs / steps), so lambda and lr match it bit for bit.
 * After each epoch: evaluation (eval mode) on source test, target test and the held-out source
 * validation split, one JSON line appended to RUN_DIR/metrics.jsonl, RUN_DIR/last.ckpt written
 * atomically, and RUN_DIR/best.ckpt when the validation accuracy improved. The model is never
 * selected on target labels; the best target-test epoch is only reported, marked "oracle".
 *
 * RNG streams, all derived from the run seed S: model initialisation uses S itself; the
 * trainer's dropout RNG, the data-shuffle RNG and the validation split each use their own
 * splitmix-derived seed (trainloop_seed(S, k)).
 *
 * Interruption: when *stop becomes non-zero (a signal handler) or after stop_after_steps steps
 * (tests), the loop finishes the current step, writes last.ckpt with the exact position (epoch,
 * step in epoch and the data-RNG state from BEFORE that epoch's shuffle, so resuming re-draws the
 * same permutations) and returns DANN_ERR_INTERRUPTED. Resuming from that checkpoint continues
 * bit for bit: at one thread an interrupted and resumed run ends with the same parameters as an
 * uninterrupted one. A stop request during the last step of an epoch takes effect after that
 * epoch's evaluation. Checkpoint conventions: ckpt_meta.epoch is the 0-based epoch to continue
 * in, step_in_epoch the steps of it already done, best_epoch is 1-based (0: none).
 *
 * Early stopping (patience K): after an evaluated epoch E whose best source-val epoch is E - K or
 * earlier the run ends as complete (summary.json, "stopped_early": E); last.ckpt records it
 * (key early_stop), so resuming it does nothing more. The schedules keep the planned length.
 *
 * With iters_per_epoch > 0 an epoch is that many steps of full batches drawn from each domain's
 * endless seeded cycles (trainloop_cycle_batch) instead; the data-shuffle RNG is not used.
 *
 * Guards (trainguard.h): a resumed checkpoint's every field is checked against the run before
 * it is used; a class loss above 10 ln(C) for 10 consecutive steps, or a NaN/infinite loss,
 * stops the run (DANN_ERR_NUMERIC, naming the step); the model and moments are checked finite
 * before every checkpoint write; a metrics line whose checkpoint could not be saved is taken
 * back; stale *.tmp files of a killed save are removed at the start. last.ckpt also records
 * the thread count (key threads), which the CLI resumes with.
 *
 * Nothing is allocated inside a step: batch buffers and permutations are allocated once. */
#ifndef DANN_CLI_TRAINLOOP_H
#define DANN_CLI_TRAINLOOP_H

#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include "dann.h"
#include "cli/json.h"
#include "data/data.h"

enum { PROGRESS_AUTO = 0, PROGRESS_BAR, PROGRESS_LINES, PROGRESS_OFF };

/* Test hook, called before every step (after the batches are gathered) with the model and the
 * batch's dataset indices (src_idx is NULL in target-only mode, tgt_idx NULL in source-only). */
typedef void (*trainloop_batch_hook)(void *ctx, dann_model *m, int epoch, int step,
                                     const int32_t *src_idx, int Bs, const int32_t *tgt_idx, int Bt);

typedef struct {
    const dataset *src, *tgt;           /* training sets; tgt may be NULL in source-only mode */
    const dataset *src_test, *tgt_test; /* NULL: that evaluation is skipped */
} trainloop_data;

/* What an extension sees after each epoch (trainloop_ext.epoch_end). */
typedef struct {
    const trainloop_data *d;     /* the run's sets */
    const dataset *val;          /* the held-out source images, NULL without source_val */
    const int32_t *train_idx;    /* the source training indices (the others are val) */
    int n_train;
    int epoch;                   /* epochs completed, 1-based */
    int epochs, batch, eval_max;
    int evaluated;               /* this epoch was evaluated (eval_every) */
    double src_acc, tgt_acc, val_acc;   /* -1 where not evaluated */
    float lambda, lr;            /* the epoch's last step's */
    uint64_t seed;
    const char *out_dir;         /* NULL: write no files */
    const dann_train_config *cfg;
    int quiet;
} trainloop_epoch;

/* An extension of the loop (model selection rules: select.h; weight averages: average.h). Every
 * member may be NULL. ctx is the extension's own. Calls, in order:
 *   start      once, before the first step; kv holds the checkpoint's key/value lines on resume
 *              ("" for a fresh run), steps the optimizer steps done, out_dir the run folder.
 *   step       after every training step (the model's parameters just moved).
 *   epoch_end  after each epoch's evaluation, before metrics.jsonl and last.ckpt are written:
 *              adds its fields to the metrics line j, writes its own files, sets its state lines
 *              in kv (saved in last.ckpt) and may append a few words to the epoch line (note).
 *   save       before last.ckpt is written on an interruption in the middle of an epoch.
 *   summary    adds its fields to summary.json; report prints its result lines (stdout). */
typedef struct trainloop_ext {
    void *ctx;
    dann_status (*start)(void *ctx, dann_model *m, const char *kv, int64_t steps,
                         const char *out_dir, dann_error *err);
    void (*step)(void *ctx, const dann_model *m);
    dann_status (*epoch_end)(void *ctx, dann_model *m, const trainloop_epoch *e, json_buf *j,
                             char *kv, char *note, size_t note_cap, dann_error *err);
    dann_status (*save)(void *ctx, char *kv, int64_t steps, dann_error *err);
    void (*summary)(void *ctx, json_buf *j);
} trainloop_ext;

typedef struct {
    int epochs;                /* >= 1 */
    int batch;                 /* per domain, >= 1 */
    int max_steps;             /* cap on steps per epoch; 0 = none */
    int eval_max;              /* evaluate on the first N test images; 0 = all */
    int eval_every;            /* evaluate after every k-th epoch and the last; 0 or 1 = all */
    int source_val;            /* hold out N source training images for model selection */
    int patience;              /* early stopping: end the run when the source-val accuracy has
                                  not improved for this many epochs (needs source_val); 0 = off */
    uint64_t seed;
    const char *preset;        /* the recipe, stored in checkpoints ("py3", "paper") */
    const char *arch;          /* network (preset name or description) of a fresh run; NULL: py3 */
    const char *out_dir;       /* run folder (must exist); NULL writes no files at all */
    const char *resume;        /* checkpoint to continue from, or NULL for a fresh run */
    const char *label;         /* prefix of progress and epoch lines (e.g. "dann"), or NULL */
    int progress;              /* PROGRESS_*; AUTO = a bar on a terminal, plain lines otherwise */
    int quiet;                 /* no progress and no epoch lines */
    int64_t stop_after_steps;  /* tests: stop as if interrupted after this many steps; 0 = never */
    volatile sig_atomic_t *stop; /* set asynchronously to request a stop; may be NULL */
    trainloop_batch_hook on_batch; /* tests; may be NULL */
    /* Data-parallel runs (docs/SCALING.md): this process's part of every batch and the
     * trainer's exchange; NULL = one process. With dist, agree(flag) must return the OR of every
     * process's flag (a stop request must stop all of them at the same step), or -1 when the
     * exchange failed. no_eval: skip every evaluation (ranks other than 0). */
    const dann_dist *dist;
    int (*agree)(int flag);
    int no_eval;
    void *hook_ctx;
    const trainloop_ext *ext;  /* n_ext extensions, called in order */
    int n_ext;
    /* TLlib's epochs: exactly this many steps per epoch, each domain drawing full batches from
     * its own endless sequence of seeded permutations (trainloop_cycle_batch), so the smaller set
     * cycles; 0 = the reference's epochs (above). Stored in the checkpoint (iters_per_epoch). */
    int iters_per_epoch;
    const char *kv;            /* a fresh run's first key/value lines in its checkpoints (the
                                  data: class names, normalisation); NULL = none */
    FILE *progress_out;        /* the progress bar's stream (NULL: stdout) */
} trainloop_opts;


typedef struct {
    int epochs_done;          /* completed epochs (including those before a resume) */
    int steps_per_epoch;
    int64_t steps_run;        /* steps run by this call */
    double src_acc, tgt_acc, val_acc;      /* after the last completed epoch; -1 = not evaluated */
    int best_epoch;           /* 1-based epoch with the best source-val accuracy; 0 = none */
    double best_val_acc, best_tgt_acc;     /* its val and target accuracy (-1 = unknown) */
    int oracle_epoch;         /* epoch with the best target test accuracy (oracle; 0 = none) */
    double oracle_tgt_acc;
    int stopped_early;        /* the epoch after which patience ended the run; 0 = it did not */
    double train_seconds, eval_seconds;    /* spent by this call */
} trainloop_result;

/* Runs a fresh or resumed training run (see above). cfg gives the mode and hyper-parameters of
 * a fresh run; a resumed run takes them from the checkpoint (cfg may then be NULL), and its
 * epochs, batch and seed must equal the checkpoint's. When model_out is non-NULL it receives
 * the trained model (the caller frees it with dann_model_free), also when DANN_ERR_INTERRUPTED
 * is returned. Errors: DANN_ERR_ARG (bad options or datasets), DANN_ERR_IO / FORMAT (run files,
 * checkpoints), DANN_ERR_NUMERIC (diverged; the message says what last.ckpt keeps),
 * DANN_ERR_INTERRUPTED (stopped; last.ckpt holds the position), DANN_ERR_NOMEM. */
dann_status trainloop_run(const trainloop_opts *o, const dann_train_config *cfg,
                          const trainloop_data *d, dann_model **model_out, trainloop_result *res,
                          dann_error *err);

/* min(ceil(n_src/B), ceil(n_tgt/B)), capped by max_steps when > 0. */
int trainloop_steps_per_epoch(int n_src, int n_tgt, int batch, int max_steps);

/* The seed of derived stream k (1: trainer dropout, 2: data shuffle, 3: validation split; 5-9
 * the extensions'; 20-23 domains.c's held-out splits and test samples; 24-25 the cycles of
 * iters_per_epoch). */
uint64_t trainloop_seed(uint64_t seed, int k);

/* iters_per_epoch's batches: the g-th batch (g = epoch * steps + step, from 0) of a domain
 * (dom 0 source, 1 target) whose n training indices are base[0..n) takes min(B, n) indices:
 * batch j = g mod (n / min(B, n)) of cycle g div (n / min(B, n)), a cycle being base shuffled
 * by its own seed (cycle and domain derived from seed), the last n mod B indices of a cycle left
 * out (drop_last). perm (n entries) caches the current cycle, *cached its number (-1 at first).
 * Stateless in g, so a resumed run draws the same batches. Returns the batch size. */
int trainloop_cycle_batch(const int32_t *base, int n, int B, uint64_t seed, int dom, int64_t g,
                          int32_t *perm, int64_t *cached, const int32_t **batch);

/* The validation split of n source images: a permutation drawn from trainloop_seed(seed, 3);
 * its last n_val entries (in permutation order) go to val[0..n_val), the other indices to
 * train[0..n - n_val) in increasing order. */
void trainloop_split(int n, int n_val, uint64_t seed, int32_t *train, int32_t *val);

/* Ctrl-C / SIGTERM as a stop request: after trainloop_catch_stop(s, msg) the first SIGINT or
 * SIGTERM prints msg and sets the returned flag (give it to trainloop_opts.stop); a second one
 * takes the default action (quits at once). trainloop_release_stop(s) puts the old handlers back. */
typedef struct { struct sigaction old_int, old_term; } trainloop_signals;
volatile sig_atomic_t *trainloop_catch_stop(trainloop_signals *s, const char *msg);
void trainloop_release_stop(const trainloop_signals *s);

#endif
