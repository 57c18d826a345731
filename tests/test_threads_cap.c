/* test_threads_cap.c - thread counts that cannot work are cut, never waited on.
 *
 * OpenBLAS maps a ~128 MiB buffer per thread when its thread count is set and retries forever
 * when the mapping fails: under an 8 GB address-space limit (ulimit -v), 63 threads hung.
 *   - library: in a child process limited to 8 GB (setrlimit), dann_threads_set(63) returns at
 *     once, with a count whose buffers and stacks fit in half the limit, and a matrix product
 *     then runs on it; without a limit a count is kept as it is (more threads than CPUs too);
 *   - command line: `dann eval --threads 63` under `ulimit -v 8000000` in a child shell finishes,
 *     with a note that it uses fewer threads (at most the CPUs), and gives the same accuracy as
 *     with 1 thread.
 * Under AddressSanitizer (which reserves terabytes of address space) the limits are skipped. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli_testutil.h"
#include "core/core.h"
#include "data_testutil.h"
#include "io/checkpoint.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define LIMIT_BYTES ((rlim_t)8000000 * 1024)  // ulimit -v 8000000 (KiB)

TEST(threads_capped_under_an_address_space_limit) {
    if (UNDER_ASAN) SKIP("AddressSanitizer needs an unlimited address space");
    const int before = dann_get_threads();
    dann_threads_set(3);
    CHECK(dann_threads_get() == 3, "without a limit 3 threads became %d", dann_threads_get());
    dann_threads_set(before);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {LIMIT_BYTES, LIMIT_BYTES};
        if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(200);
        alarm(30);
        dann_threads_set(63);
        float a[64 * 64], b[64 * 64], c[64 * 64];
        for (int i = 0; i < 64 * 64; i++) a[i] = (float)(i % 7), b[i] = (float)(i % 5);
        gemm(0, 0, 64, 64, 64, 1.0f, a, 64, b, 64, 0.0f, c, 64);
        float want = 0;
        for (int k = 0; k < 64; k++) want += (float)(k % 7) * (float)((k * 64) % 5);
        _exit(c[0] == want ? dann_get_threads() : 201);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(!WIFSIGNALED(status), "dann_threads_set(63) under an 8 GB limit %s",
          WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "hung (30 s)" : "crashed");
    if (WIFSIGNALED(status)) return;
    int got = WEXITSTATUS(status);
    /* Half of 8000000 KiB over 136 MiB (a 128 MiB BLAS buffer and an 8 MiB stack) = 28; without
     * BLAS each thread costs its stack only. */
    struct rlimit st;
    getrlimit(RLIMIT_STACK, &st);
    const double stack = st.rlim_cur == RLIM_INFINITY ? 8 << 20 : (double)st.rlim_cur;
#ifdef DANN_USE_CBLAS
    const double per = (double)(128 << 20) + stack;
#else
    const double per = stack;
#endif
    int want = (int)((double)LIMIT_BYTES / 2 / per);
    if (want > 63) want = 63;
    CHECK(got == want, "63 threads under an 8 GB limit became %d, expected %d", got, want);
}

TEST(threads_cli_under_ulimit_v) {
    if (UNDER_ASAN) SKIP("AddressSanitizer needs an unlimited address space");
    if (!dann_bin()) SKIP("no build/dann");
    const char *root = test_tmpdir();
    char model[600], data[600], cmd[2400];
    snprintf(model, sizeof model, "%s/m.ckpt", root);
    snprintf(data, sizeof data, "%s/imgs", root);
    dann_model *m;
    dann_error err;
    if (dann_model_new(&m, "in 1x8x8; features: conv(4,3) relu; class: fc(2); domain: fc(2)", 3, 4,
                       &err) || ckpt_save(model, m, NULL, NULL, &err)) {
        CHECK(0, "model: %s", err.msg);
        return;
    }
    dann_model_free(m);
    tu_mkdir(data);
    for (int k = 0; k < 2; k++) {
        char d[700];
        snprintf(d, sizeof d, "%s/c%d", data, k);
        tu_mkdir(d);
        for (int i = 0; i < 3; i++) {
            char f[800];
            uint8_t v = (uint8_t)(40 * i + 100 * k);
            snprintf(f, sizeof f, "%s/%d.png", d, i);
            tu_png_solid(f, 8, 8, 1, &v);
        }
    }
    static char out1[1 << 16];
    for (int pass = 0; pass < 2; pass++) {
        snprintf(cmd, sizeof cmd, "ulimit -v 8000000 && exec timeout -s KILL 60 '%s' eval --model "
                 "'%s' --data 'folder:%s' --threads %d --json", dann_bin(), model, data,
                 pass ? 63 : 1);
        run_result *r = run_prog("sh", (const char *[]){"-c", cmd, NULL});
        CHECK(r->rc == 0, "eval --threads %d under ulimit -v 8000000: exit %d (%s)",
              pass ? 63 : 1, r->rc, r->rc == 137 ? "hung, killed after 60 s" : r->err);
        if (r->rc) return;
        if (pass == 0) {
            snprintf(out1, sizeof out1, "%s", r->out);
            continue;
        }
        CHECK(strstr(r->err, "note") && strstr(r->err, "instead of 63"),
              "no note that fewer threads are used: '%s'", r->err);
        const char *a1 = strstr(out1, "\"accuracy\""), *a2 = strstr(r->out, "\"accuracy\"");
        CHECK(a1 && a2 && strncmp(a1, a2, 24) == 0, "accuracy differs: '%s' vs '%s'", out1, r->out);
    }
}
