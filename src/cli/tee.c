/* tee.c - train.log (tee.h): stdout and stderr swapped for fopencookie streams whose write
 * function passes the bytes on to the original stream and copies them to the log (or to a
 * memory buffer until the log file is attached). stdout's copy is line-buffered, stderr's
 * unbuffered, so the log keeps the order of what the terminal shows. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "cli/tee.h"
#include "core/core.h"

#define TEE_MEM_MAX (1 << 20)   /* kept before the log is attached; the rest is dropped */

static FILE *g_out, *g_err;     /* the original streams (NULL: not started) */
static FILE *g_log;
static char *g_mem;
static size_t g_mem_n;

static void keep(const char *buf, size_t n) {
    if (g_log) {
        if (fwrite(buf, 1, n, g_log) == n) fflush(g_log);
        return;
    }
    if (!g_mem) g_mem = malloc(TEE_MEM_MAX);
    if (!g_mem) return;
    if (n > TEE_MEM_MAX - g_mem_n) n = TEE_MEM_MAX - g_mem_n;
    memcpy(g_mem + g_mem_n, buf, n);
    g_mem_n += n;
}

static ssize_t write_to(FILE *orig, const char *buf, size_t n) {
    size_t w = fwrite(buf, 1, n, orig);
    fflush(orig);
    keep(buf, w);
    return w == n ? (ssize_t)n : -1;
}

static ssize_t out_write(void *c, const char *buf, size_t n) { (void)c; return write_to(g_out, buf, n); }
static ssize_t err_write(void *c, const char *buf, size_t n) { (void)c; return write_to(g_err, buf, n); }

int tee_start(void) {
    if (g_out) return 0;
    cookie_io_functions_t fo = {NULL, out_write, NULL, NULL}, fe = {NULL, err_write, NULL, NULL};
    FILE *o = fopencookie(NULL, "w", fo), *e = fopencookie(NULL, "w", fe);
    if (!o || !e) {
        if (o) fclose(o);
        if (e) fclose(e);
        return -1;
    }
    setvbuf(o, NULL, _IOLBF, 0);
    setvbuf(e, NULL, _IONBF, 0);
    fflush(stdout);
    g_out = stdout;
    g_err = stderr;
    stdout = o;
    stderr = e;
    return 0;
}

FILE *tee_real_stdout(void) { return g_out ? g_out : stdout; }

dann_status tee_attach(const char *path, int append, dann_error *err) {
    if (!g_out || g_log) return DANN_OK;
    FILE *f = fopen(path, append ? "ab" : "wb");
    if (!f) return dann_fail(err, DANN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fflush(stdout);
    g_log = f;
    if (g_mem_n && fwrite(g_mem, 1, g_mem_n, f) != g_mem_n) {
        g_log = NULL;
        fclose(f);
        return dann_fail(err, DANN_ERR_IO, "%s: write error", path);
    }
    fflush(f);
    free(g_mem);
    g_mem = NULL;
    g_mem_n = 0;
    return DANN_OK;
}

void tee_stop(void) {
    if (!g_out) return;
    FILE *o = stdout, *e = stderr;
    fflush(o);
    stdout = g_out;
    stderr = g_err;
    fclose(o);
    fclose(e);
    g_out = g_err = NULL;
    if (g_log) fclose(g_log);
    g_log = NULL;
    free(g_mem);
    g_mem = NULL;
    g_mem_n = 0;
}
