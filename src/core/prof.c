/* prof.c - the step profile's accumulators (see prof.h). */
#include "core/prof.h"

dann_prof_t dann_prof;
