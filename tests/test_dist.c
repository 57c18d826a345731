/* test_dist.c - data-parallel steps (dann_dist, src/model/netdist.c) without MPI: N "ranks" are
 * threads of this process, each with its own model and trainer, exchanging through an in-memory
 * all-gather. Training with chunks of c examples must give the same bits on 1, 2 and 3 ranks
 * (every rank, parameters, BatchNorm statistics and counters), and stay close to the unchunked
 * step (the same mathematics, other summation order). The network has every reduction: a fused
 * BatchNorm-pool block after a first convolution (grey and colour batches), a plain 2-D and 1-D
 * BatchNorm, dropout and channel dropout, both heads; the last batch of a pass is partial. */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dann.h"
#include "model/model.h"
#include "test.h"

#define NET "in 3x12x12; features: conv(6,3) bn maxpool(2) relu conv(8,3) bn dropout2d(0.5) relu; " \
            "class: fc(10) bn relu dropout(0.5) fc(4); domain: fc(8) bn relu fc(2)"
#define BS 20
#define BT 18
#define CHUNK 4
#define STEPS 3
#define IMG (3 * 12 * 12)

static int tl_rank;  /* this process's rank */

/* The exchange: a file mapped by every rank process, holding a process-shared barrier and a
 * data area; rank r writes its bytes at their offset, everyone waits, everyone copies all. */
#define XDATA (1 << 20)
typedef struct {
    pthread_barrier_t bar;
    int n;
    char data[XDATA];
    float result[8][4096];  /* each rank's parameters, state and counters after training */
} exchange;

static int allgather(void *ctx, const void *send, void *recv, const size_t *bytes) {
    exchange *x = ctx;
    size_t off = 0, total = 0, me = 0;
    for (int r = 0; r < x->n; r++) {
        if (r == tl_rank) me = off;
        off += bytes[r];
    }
    total = off;
    if (total > XDATA) return 1;
    memcpy(x->data + me, send, bytes[tl_rank]);
    pthread_barrier_wait(&x->bar);
    memcpy(recv, x->data, total);
    pthread_barrier_wait(&x->bar);
    return 0;
}

/* The batch of step s: source grey on even steps (the one-channel first-conv path), colour
 * otherwise; target colour. Labels 0..3. */
static void batch(int s, float *xs, int32_t *ys, float *xt) {
    dann_rng r;
    rng_seed(&r, 1000 + s);
    for (int b = 0; b < BS; b++) {
        ys[b] = (int32_t)rng_below(&r, 4);
        for (int i = 0; i < 144; i++) {
            float v = 2 * rng_uniform(&r) - 1;
            for (int c = 0; c < 3; c++) xs[(b * 3 + c) * 144 + i] = s % 2 == 0 ? v : 2 * rng_uniform(&r) - 1;
        }
    }
    for (int i = 0; i < BT * IMG; i++) xt[i] = rng_uniform(&r) * 1.5f - 0.5f;
}

/* A rank process: trains STEPS steps on its part of each batch, then leaves its parameters,
 * BatchNorm state and counters in x->result[rank]. Returns 0 on success. */
static int worker(exchange *x, int rank, int n, int chunk) {
    tl_rank = rank;
    dann_threads_set(1);
    dann_error err = {0};
    dann_train_config cfg;
    dann_model *m = NULL;
    dann_trainer *t = NULL;
    dann_train_config_preset(&cfg, getenv("DANN_DIST_SGD") ? "paper" : "py3", &err);
    dann_dist d = {rank, n, chunk, allgather, x};
    if (dann_model_new(&m, NET, 5, BS, &err) || dann_trainer_new(&t, m, &cfg, 6, &err) ||
        (chunk && dann_trainer_set_dist(t, &d, &err))) {
        fprintf(stderr, "rank %d: %s\n", rank, err.msg);
        return 1;
    }
    static float xs[BS * IMG], xt[BT * IMG];
    static int32_t ys[BS];
    for (int s = 0; s < STEPS; s++) {
        batch(s, xs, ys, xt);
        int fs, ns, ft, nt;
        dann_dist_slice(&d, BS, &fs, &ns);
        dann_dist_slice(&d, BT, &ft, &nt);
        const dann_input src = {.B = ns, .B_total = BS, .x = xs + (size_t)fs * IMG};
        const dann_input tgt = {.B = nt, .B_total = BT, .x = xt + (size_t)ft * IMG};
        if (dann_train_step_input(t, &src, ys + fs, &tgt, NULL, (double)s / STEPS, NULL, &err)) {
            fprintf(stderr, "rank %d step %d: %s\n", rank, s, err.msg);
            return 1;
        }
    }
    size_t np, ns;
    float *p = dann_model_params(m, &np), *st = dann_model_state(m, &ns), *out = x->result[rank];
    if (np + ns + 64 > 4096) return 1;
    memcpy(out, p, np * sizeof(float));
    memcpy(out + np, st, ns * sizeof(float));
    int k = 0;
    for (int i = 0; i < dann_model_tensors(m, 0, NULL); i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (ti.kind == 2) out[np + ns + k++] = (float)dann_model_bn_count(m, i);
    }
    dann_trainer_free(t);
    dann_model_free(m);
    return 0;
}

static exchange *map_exchange(const char *path, int create) {
    int fd = open(path, create ? O_RDWR | O_CREAT | O_TRUNC : O_RDWR, 0600);
    if (fd < 0) return NULL;
    if (create && ftruncate(fd, sizeof(exchange)) != 0) {
        close(fd);
        return NULL;
    }
    void *p = mmap(NULL, sizeof(exchange), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

/* A rank process re-runs this binary with DANN_DIST_WORKER="file rank n chunk" set: it does
 * its part here, before the suite's main, and exits. */
__attribute__((constructor)) static void dist_worker_entry(void) {
    const char *w = getenv("DANN_DIST_WORKER");
    if (!w) return;
    char path[512];
    int rank, n, chunk;
    if (sscanf(w, "%511s %d %d %d", path, &rank, &n, &chunk) != 4) _exit(2);
    exchange *x = map_exchange(path, 0);
    _exit(x ? worker(x, rank, n, chunk) : 3);
}

/* Runs n rank processes with chunk c; returns the mapped exchange (results inside) or NULL. */
static exchange *train(int n, int chunk, int sgd) {
    char path[600];
    snprintf(path, sizeof path, "%s/x%d_%d_%d", test_tmpdir(), n, chunk, sgd);
    exchange *x = map_exchange(path, 1);
    if (!x) {
        CHECK(0, "cannot map %s", path);
        return NULL;
    }
    pthread_barrierattr_t a;
    pthread_barrierattr_init(&a);
    pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&x->bar, &a, (unsigned)n);
    x->n = n;
    pid_t pid[8];
    for (int r = 0; r < n; r++) {
        char env[700];
        snprintf(env, sizeof env, "%s %d %d %d", path, r, n, chunk);
        if ((pid[r] = fork()) == 0) {
            setenv("DANN_DIST_WORKER", env, 1);
            if (sgd) setenv("DANN_DIST_SGD", "1", 1);
            execl("/proc/self/exe", "test_dann", "dist_none_", (char *)NULL);
            _exit(4);
        }
    }
    int ok = 1;
    for (int r = 0; r < n; r++) {
        int status = 0;
        waitpid(pid[r], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            CHECK(0, "%d ranks: rank %d process failed (status %d)", n, r, status);
            ok = 0;
        }
    }
    if (!ok) {
        munmap(x, sizeof *x);
        return NULL;
    }
    return x;
}

static size_t result_floats(void) {
    dann_model *m = NULL;
    dann_error err;
    size_t n = 0, np, ns;
    if (dann_model_new(&m, NET, 5, 1, &err) == DANN_OK) {
        dann_model_params(m, &np);
        dann_model_state(m, &ns);
        n = np + ns + 5;  // 5 BatchNorm layers' counters
        dann_model_free(m);
    }
    return n;
}

TEST(dist_chunked_steps_same_bits_on_1_2_3_ranks) {
    const size_t n = result_floats();
    exchange *one = train(1, CHUNK, 0);
    if (!one) return;
    for (int k = 2; k <= 3; k++) {
        exchange *x = train(k, CHUNK, 0);
        if (!x) continue;
        for (int r = 0; r < k; r++) {
            size_t i = 0;
            while (i < n && !memcmp(&x->result[r][i], &one->result[0][i], sizeof(float))) i++;
            CHECK(i == n, "%d ranks: rank %d's parameters, statistics or counters differ from 1 "
                  "rank's (first at float %zu of %zu: %.9g vs %.9g)", k, r, i, n,
                  i < n ? x->result[r][i] : 0.0, i < n ? one->result[0][i] : 0.0);
        }
        munmap(x, sizeof *x);
    }
    munmap(one, sizeof *one);
}

/* Chunked and one-call steps do the same mathematics in another summation order: with SGD
 * (whose update scales with the gradient, unlike Adam's on near-zero gradients) the parameters
 * after 3 steps agree to rounding. */
TEST(dist_chunked_step_close_to_one_call) {
    const size_t n = result_floats();
    exchange *a = train(1, CHUNK, 1), *b = train(1, 0, 1);
    if (a && b) {
        double w = CHECK_CLOSE("chunked vs one-call steps (SGD)", a->result[0], b->result[0], n,
                               1e-6, 1e-5);
        printf("    chunked vs one-call after %d steps: worst |a-b| %.3g\n", STEPS, w);
    }
    if (a) munmap(a, sizeof *a);
    if (b) munmap(b, sizeof *b);
}
