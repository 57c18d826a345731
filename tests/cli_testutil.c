/* cli_testutil.c - runs the real `dann` binary for the CLI tests (see cli_testutil.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli_testutil.h"

const char *dann_bin(void) {
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 16);
    if (n <= 0) return NULL;
    path[n] = 0;
    char *slash = strrchr(path, '/');
    if (!slash) return NULL;
    strcpy(slash + 1, "dann");
    return access(path, X_OK) == 0 ? path : NULL;
}

static void slurp_into(const char *path, char *buf, size_t cap) {
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

run_result *run_dann(const char *const *args) { return run_prog(dann_bin(), args); }

run_result *run_prog(const char *bin, const char *const *args) {
    static run_result r;
    static int seq;
    char outp[512], errp[512];
    static char dir[256];
    if (!dir[0]) snprintf(dir, sizeof dir, "%s", test_tmpdir());  /* test_tmpdir's buffer is reused */
    snprintf(outp, sizeof outp, "%s/stdout%d", dir, seq);
    snprintf(errp, sizeof errp, "%s/stderr%d", dir, seq++);
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)bin;
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = (char *)args[i];
    argv[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(126);
        execvp(bin, argv);
        _exit(127);
    }
    int status = 0;
    r.rc = -1;
    if (pid > 0 && waitpid(pid, &status, 0) == pid)
        r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    slurp_into(outp, r.out, sizeof r.out);
    slurp_into(errp, r.err, sizeof r.err);
    return &r;
}

int exists(const char *path) { return access(path, F_OK) == 0; }

char *pathf(const char *dir, const char *name) {
    static char bufs[8][512];
    static int k;
    char *p = bufs[k++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

long file_bytes(const char *path, unsigned char **buf) {
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    rewind(f);
    if (n >= 0 && (*buf = malloc((size_t)n + 1)) && fread(*buf, 1, (size_t)n, f) != (size_t)n) n = -1;
    if (n >= 0 && *buf) (*buf)[n] = 0;
    fclose(f);
    return n;
}

int write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return (fclose(f) == 0) & ok;
}

