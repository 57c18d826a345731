/* prof.h - where a training step's time goes: wall time per phase of the py3 step, summed over
 * calls while prof.on is set (dann bench --profile). Off, each PROF costs one branch. */
#ifndef DANN_PROF_H
#define DANN_PROF_H

#include <time.h>

enum {
    PROF_CONV1_FWD, PROF_BN1_STATS, PROF_BN1_APPLY, PROF_CONV2_FWD, PROF_BN2_STATS,
    PROF_BN2_APPLY, PROF_HEADS_FWD, PROF_HEADS_BWD, PROF_BN2_BWD, PROF_CONV2_BWD, PROF_BN1_BWD,
    PROF_CONV1_BWD, PROF_OPTIM, PROF_N
};

typedef struct {
    int on;
    double s[PROF_N];
} dann_prof_t;
extern dann_prof_t dann_prof;
extern const char *const dann_prof_names[PROF_N];

static inline double prof_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define PROF(section, ...)                                         \
    do {                                                         \
        if (dann_prof.on) {                                      \
            const double prof_t0_ = prof_clock();                \
            __VA_ARGS__;                                         \
            dann_prof.s[section] += prof_clock() - prof_t0_;     \
        } else {                                                 \
            __VA_ARGS__;                                         \
        }                                                        \
    } while (0)

#endif
