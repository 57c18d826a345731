/* test.h - the suite's tiny harness. TEST(name) { ... } defines a test that registers itself;
 * CHECK(cond, fmt, ...) records a failure with a message and continues; SKIP(fmt, ...) marks
 * the test skipped and returns. The runner prints one line per test and ends with
 * "N passed, N failed, N skipped"; it exits non-zero when any test failed. */
#ifndef DANN_TEST_H
#define DANN_TEST_H

#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*test_fn)(void);
void test_register(const char *name, const char *file, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int test_failed_now(void);

#define TEST(name)                                                                  \
    static void name(void);                                                         \
    __attribute__((constructor)) static void name##_register(void) {                \
        test_register(#name, __FILE__, name);                                       \
    }                                                                               \
    static void name(void)

#define CHECK(cond, ...)                                                            \
    do {                                                                            \
        if (!(cond)) test_fail(__FILE__, __LINE__, __VA_ARGS__);                    \
    } while (0)

#define SKIP(...)                                                                   \
    do {                                                                            \
        test_skip(__VA_ARGS__);                                                     \
        return;                                                                     \
    } while (0)

/* Compares n floats with |a-b| <= atol + rtol*|b| (b is the reference). Reports the worst
 * element (index, both values, excess) under `what` and returns the worst |a-b|. */
double check_close(const char *what, const float *a, const float *b, size_t n, double atol,
                   double rtol, const char *file, int line);
#define CHECK_CLOSE(what, a, b, n, atol, rtol) check_close(what, a, b, n, atol, rtol, __FILE__, __LINE__)

/* Path of the shared data folder (../shared/data) or NULL when it is absent. */
const char *test_shared_data(void);
/* A fresh temporary directory for this test (removed at exit). */
const char *test_tmpdir(void);

#endif
