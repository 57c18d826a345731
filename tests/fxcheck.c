/* fxcheck.c - fixture reading and comparison helpers of fxcheck.h. */
#include <stdio.h>
#include <stdlib.h>
#include "fxcheck.h"
#include "test.h"

int fx_open(st_file *f, const char *path) {
    dann_error err = {0};
    if (st_read(f, path, &err)) {
        CHECK(0, "%s (regenerate with `make fixtures`)", err.msg);
        return 0;
    }
    return 1;
}

const st_tensor *fx_get(const st_file *f, const char *path, const char *c, const char *what,
                        st_dtype dt, size_t n) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", c, what);
    const st_tensor *t = st_find(f, name);
    const int ok = t && t->dtype == dt && (n == 0 || t->numel == n);
    CHECK(ok, "%s: %s missing or wrong dtype/size", path, name);
    return ok ? t : NULL;
}

const float *fx_f32(const st_file *f, const char *path, const char *c, const char *what, size_t n) {
    const st_tensor *t = fx_get(f, path, c, what, ST_F32, n);
    return t ? t->data : NULL;
}

float *fx_zeros(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) { fprintf(stderr, "fxcheck: out of memory\n"); abort(); }
    return p;
}

void fx_cmp(const char *c, const char *what, const float *got, const float *want, size_t n,
            double atol, double rtol) {
    char label[128];
    snprintf(label, sizeof label, "%s %s", c, what);
    double worst = CHECK_CLOSE(label, got, want, n, atol, rtol);
    printf("    worst |a-b| %-34s %.3g\n", label, worst);
}

void fx_cmp2(const char *c, const char *what, const float *got, const float *want, size_t n,
             double atol, double rtol) {
    float *w2 = fx_zeros(n);
    char label[128];
    for (size_t i = 0; i < n; i++) w2[i] = 2.0f * want[i];
    snprintf(label, sizeof label, "%s %s (2nd backward accumulates)", c, what);
    CHECK_CLOSE(label, got, w2, n, atol, rtol);
    free(w2);
}
