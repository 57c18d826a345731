/* util.c - error reporting, asserts, checked allocation and the library's version. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/core.h"

_Noreturn void dann_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "dann: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
    abort();
}

dann_status dann_fail(dann_error *err, dann_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void *dann_calloc(size_t n, size_t size, dann_error *err) {
    void *p = (n && size) ? calloc(n, size) : calloc(1, 1);
    if (!p) dann_fail(err, DANN_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

const char *dann_status_str(dann_status s) {
    switch (s) {
    case DANN_OK: return "ok";
    case DANN_ERR_IO: return "I/O error";
    case DANN_ERR_FORMAT: return "malformed input";
    case DANN_ERR_ARG: return "invalid argument";
    case DANN_ERR_NOMEM: return "out of memory";
    case DANN_ERR_NUMERIC: return "numerical failure";
    case DANN_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

int dann_version(const char **str) {
    if (str) *str = DANN_VERSION_STRING;
    return DANN_VERSION;
}
