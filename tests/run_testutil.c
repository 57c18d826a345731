/* run_testutil.c - running `dann train` as a user does, for the reliability tests (see
 * run_testutil.h). */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "run_testutil.h"

int demo_specs(char *src, char *tgt, size_t cap) {
    const char *bin = dann_bin();
    if (!bin) return -1;
    char root[4096];
    snprintf(root, sizeof root, "%s", bin);
    for (int k = 0; k < 2; k++) {  /* ROOT/build/dann -> ROOT */
        char *slash = strrchr(root, '/');
        if (!slash) return -1;
        *slash = 0;
    }
    snprintf(src, cap, "mnist:%s/data/demo/mnist", root);
    snprintf(tgt, cap, "mnistm:%s/data/demo/mnist_m.tar.gz", root);
    char p[4200];
    snprintf(p, sizeof p, "%s/data/demo/mnist_m.tar.gz", root);
    return access(p, R_OK) == 0 ? 0 : -1;
}

static void slurp(const char *path, char *buf, size_t cap) {
    buf[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

run_result *run_dann_opts(const run_opts *o, const char *const *args) {
    static run_result r;
    static int seq;
    static char dir[256];
    if (!dir[0]) snprintf(dir, sizeof dir, "%s", test_tmpdir());
    char outp[512], errp[512];
    snprintf(outp, sizeof outp, "%s/out%d", dir, seq);
    snprintf(errp, sizeof errp, "%s/err%d", dir, seq++);
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)dann_bin();
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = (char *)args[i];
    argv[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(o->stdout_path ? o->stdout_path : outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(126);
        if (o->cwd && chdir(o->cwd) != 0) _exit(125);
        for (int i = 0; o->env && o->env[i]; i++) putenv((char *)o->env[i]);
        if (o->fsize_limit > 0) {
            struct rlimit rl = {(rlim_t)o->fsize_limit, (rlim_t)o->fsize_limit};
            signal(SIGXFSZ, SIG_IGN);   /* ignored dispositions survive exec */
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(124);
        }
        alarm(o->timeout_s > 0 ? (unsigned)o->timeout_s : 300);  /* a hang fails, not waits */
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    r.rc = -1;
    if (pid > 0 && waitpid(pid, &status, 0) == pid)
        r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (o->stdout_path) r.out[0] = 0;
    else slurp(outp, r.out, sizeof r.out);
    slurp(errp, r.err, sizeof r.err);
    return &r;
}

int file_lines(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int n = 0, ch;
    while ((ch = fgetc(f)) != EOF) n += ch == '\n';
    fclose(f);
    return n;
}

int same_file(const char *a, const char *b) {
    unsigned char *pa, *pb;
    long na = file_bytes(a, &pa), nb = file_bytes(b, &pb);
    int same = na >= 0 && na == nb && !memcmp(pa, pb, (size_t)na);
    free(pa), free(pb);
    return same;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void dir_listing(const char *dir, char *out, size_t cap) {
    out[0] = 0;
    DIR *d = opendir(dir);
    if (!d) return;
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        if (used < cap) used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? " " : "", names[i]);
        free(names[i]);
    }
}
