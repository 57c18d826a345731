/* prof.h - where a training step's time goes: wall time per op of the network (forward and
 * backward separately) and of the optimizer, summed over calls while prof.on is set
 * (dann bench --profile). Off, each PROF costs one branch. With cpu set, the timers read the
 * calling thread's CPU time instead (bench/kernels.c at 1 thread: robust to a loaded machine). */
#ifndef DANN_PROF_H
#define DANN_PROF_H

#include <time.h>

#define PROF_N 256
enum { PROF_OPTIM = PROF_N - 1 };

typedef struct {
    int on, cpu;
    double s[PROF_N];
    const char *label[PROF_N];  /* the op's layer name (set while profiling), NULL = unused */
    int backward[PROF_N];       /* 1: the backward of that op */
} dann_prof_t;
extern dann_prof_t dann_prof;

static inline double prof_clock(void) {
    struct timespec ts;
    clock_gettime(dann_prof.cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The slot of op i's forward (bwd 0) or backward (bwd 1), labelled `name` while profiling. */
static inline int prof_slot(int i, int bwd, const char *name) {
    int k = 2 * i + bwd;
    if (k >= PROF_OPTIM) k = PROF_OPTIM - 1;
    if (dann_prof.on) {
        dann_prof.label[k] = name;
        dann_prof.backward[k] = bwd;
    }
    return k;
}

#define PROF(section, ...)                                         \
    do {                                                         \
        if (dann_prof.on) {                                      \
            const int prof_k_ = (section);                       \
            const double prof_t0_ = prof_clock();                \
            __VA_ARGS__;                                         \
            dann_prof.s[prof_k_] += prof_clock() - prof_t0_;     \
        } else {                                                 \
            __VA_ARGS__;                                         \
        }                                                        \
    } while (0)

#endif
