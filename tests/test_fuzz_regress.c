/* test_fuzz_regress.c - replays the fuzz targets' committed inputs through their own entry
 * points (fuzz/fuzz_<name>.c, linked into the suite as fuzz_entry_<name>; the Makefile generates
 * the table fuzz_entries): every file of fuzz/regress/<name>/ (inputs that once crashed or hung
 * a reader, kept after the fix) and of fuzz/corpus/<name>/ (the seeds). An input passes when
 * the entry point returns; a crash or a sanitizer report (the suite's ASan/UBSan build) fails
 * the suite. Each target needs its seed corpus: an empty or missing fuzz/corpus/<name>/ fails.
 * Run from the repository root, as `make test` does. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "test.h"

extern const struct fuzz_entry { const char *name; int (*fn)(const uint8_t *, size_t); } fuzz_entries[];

/* Replays every regular file of dir through fn; returns how many (-1: no such folder). */
static int replay_dir(const char *dir, int (*fn)(const uint8_t *, size_t)) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0, r;
        do {
            if (cap - len < 65536) {
                uint8_t *g = realloc(buf, cap = 2 * cap + 65536);
                if (!g) break;
                buf = g;
            }
            r = fread(buf + len, 1, cap - len, f);
            len += r;
        } while (r > 0);
        fclose(f);
        /* libFuzzer hands the target a buffer of exactly len bytes: so does this copy. */
        uint8_t *exact = malloc(len ? len : 1);
        if (exact) {
            memcpy(exact, buf, len);
            fn(exact, len);
            n++;
        }
        free(exact);
        free(buf);
    }
    closedir(d);
    return n;
}

TEST(fuzz_regressions_and_seeds_replay) {
    int targets = 0;
    for (int i = 0; fuzz_entries[i].name; i++) {
        char dir[256];
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        snprintf(dir, sizeof dir, "fuzz/corpus/%s", fuzz_entries[i].name);
        int seeds = replay_dir(dir, fuzz_entries[i].fn);
        CHECK(seeds > 0, "%s: no seed inputs (fuzz/make_corpus.sh writes them)", dir);
        snprintf(dir, sizeof dir, "fuzz/regress/%s", fuzz_entries[i].name);
        int regress = replay_dir(dir, fuzz_entries[i].fn);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("    %-12s %3d seeds, %3d regression inputs (%.2f s)\n", fuzz_entries[i].name,
               seeds, regress < 0 ? 0 : regress,
               (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
        targets++;
    }
    CHECK(targets >= 8, "only %d fuzz targets linked", targets);
}
