/* main.c - the test runner: runs every registered test (or those whose name contains any of the
 * arguments),
 * prints one line per test and the closing "N passed, N failed, N skipped". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"

#define MAX_TESTS 512
static struct { const char *name, *file; test_fn fn; } g_tests[MAX_TESTS];
static int g_n;
static int g_cur_failed, g_cur_skipped;
static char g_skip_msg[256];
static char g_tmp_root[256];
static char g_tmp[300];

void test_register(const char *name, const char *file, test_fn fn) {
    if (g_n == MAX_TESTS) { fprintf(stderr, "too many tests\n"); exit(2); }
    g_tests[g_n].name = name;
    g_tests[g_n].file = file;
    g_tests[g_n].fn = fn;
    g_n++;
}

void test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stdout, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    g_cur_failed++;
}

void test_skip(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_skip_msg, sizeof g_skip_msg, fmt, ap);
    va_end(ap);
    g_cur_skipped = 1;
}

int test_failed_now(void) { return g_cur_failed; }

double check_close(const char *what, const float *a, const float *b, size_t n, double atol,
                   double rtol, const char *file, int line) {
    double worst = 0, worst_excess = -1;
    size_t wi = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double excess = d - (atol + rtol * fabs((double)b[i]));
        if (!(d == d)) { excess = INFINITY; d = INFINITY; }
        if (d > worst) worst = d;
        if (excess > worst_excess) { worst_excess = excess; wi = i; }
        if (excess > 0) bad++;
    }
    if (bad)
        test_fail(file, line, "%s: %d of %zu elements outside |a-b| <= %g + %g|b|; worst [%zu] got %.9g want %.9g",
                  what, bad, n, atol, rtol, wi, (double)a[wi], (double)b[wi]);
    return worst;
}

const char *test_shared_data(void) {
    static const char *candidates[] = {"../shared/data", "../../shared/data"};
    const char *env = getenv("DANN_SHARED_DATA");
    struct stat st;
    if (env && stat(env, &st) == 0) return env;
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++)
        if (stat(candidates[i], &st) == 0 && S_ISDIR(st.st_mode)) return candidates[i];
    return NULL;
}

const char *test_tmpdir(void) {
    static int seq;
    snprintf(g_tmp, sizeof g_tmp, "%s/t%d", g_tmp_root, seq++);
    mkdir(g_tmp, 0700);
    return g_tmp;
}

static void cleanup(void) {
    if (g_tmp_root[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp_root);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_tmp_root);
    }
}

/* Stable insertion sort by file name: files in order, tests in registration order. */
static void sort_tests(void) {
    for (int i = 1; i < g_n; i++)
        for (int j = i; j > 0 && strcmp(g_tests[j - 1].file, g_tests[j].file) > 0; j--) {
            __typeof__(g_tests[0]) t = g_tests[j];
            g_tests[j] = g_tests[j - 1];
            g_tests[j - 1] = t;
        }
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0;
    // test names to run: those containing any argument (all without arguments)
    const char *tmp = getenv("TMPDIR");
    snprintf(g_tmp_root, sizeof g_tmp_root, "%s/dann-test-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(g_tmp_root)) { perror("mkdtemp"); return 2; }
    atexit(cleanup);
    /* Stable order: by file, then registration order within a file. */
    sort_tests();
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < g_n; i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc && !wanted; a++) wanted = strstr(g_tests[i].name, argv[a]) != NULL;
        if (!wanted) continue;
        g_cur_failed = g_cur_skipped = 0;
        g_tests[i].fn();
        if (g_cur_failed) {
            printf("FAIL %s\n", g_tests[i].name);
            failed++;
        } else if (g_cur_skipped) {
            printf("skip %s: skipped, %s\n", g_tests[i].name, g_skip_msg);
            skipped++;
        } else {
            printf("ok   %s\n", g_tests[i].name);
            passed++;
        }
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
