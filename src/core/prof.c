/* prof.c - the step profile's accumulators and phase names (see prof.h). */
#include "core/prof.h"

dann_prof_t dann_prof;
const char *const dann_prof_names[PROF_N] = {
    "conv1 forward", "bn1 statistics", "bn1+pool+relu", "conv2 forward", "bn2 statistics",
    "bn2+drop+pool+relu", "heads forward", "heads backward", "bn2 backward", "conv2 backward",
    "bn1 backward", "conv1 weight grad", "optimizer",
};
