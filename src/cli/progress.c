/* progress.c - the progress bar / progress lines of progress.h. Drawing is throttled by the
 * clock (bar: 0.1 s) or by the step count (lines: every ~10% of the epoch, or 30 s), so the
 * cost per step is one clock read. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli/progress.h"
#include "cli/trainloop.h"

#define BAR_WIDTH 20
#define BAR_PERIOD 0.1
#define LINE_PERIOD 30.0
#define LINE_MIN_GAP 2.0   /* lines mode: no flood when epochs take seconds */

double progress_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(progress *p, int mode, FILE *f, const char *label) {
    memset(p, 0, sizeof *p);
    if (mode == PROGRESS_AUTO) mode = isatty(fileno(f)) ? PROGRESS_BAR : PROGRESS_LINES;
    p->mode = mode;
    p->f = f;
    p->label = label;
}

void progress_fmt_time(char *buf, size_t cap, double s) {
    if (!(s >= 0)) s = 0;
    if (s > 359999) s = 359999;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

void progress_epoch_begin(progress *p, int epoch, int epochs, int steps, int start_step,
                          int has_domain) {
    p->epoch = epoch;
    p->epochs = epochs;
    p->steps = steps;
    p->start_step = start_step;
    p->has_domain = has_domain;
    p->t0 = progress_now();
    p->t_draw = p->t0;
    p->next_line_step = start_step + (steps + 9) / 10;
}

/* "epoch 3/10 " plus the label. */
static int head(char *buf, size_t cap, const progress *p) {
    return snprintf(buf, cap, "%s%sepoch %d/%d", p->label ? p->label : "", p->label ? ": " : "",
                    p->epoch, p->epochs);
}

void progress_update(progress *p, int done, long images, double cls, double dom) {
    if (p->mode == PROGRESS_OFF || p->steps <= 0) return;
    double now = progress_now();
    int last = done >= p->steps;
    if (p->mode == PROGRESS_BAR) {
        if (!last && now - p->t_draw < BAR_PERIOD) return;
    } else {
        if (last || now - p->t_draw < LINE_MIN_GAP ||
            (done < p->next_line_step && now - p->t_draw < LINE_PERIOD))
            return;
        while (p->next_line_step <= done) p->next_line_step += (p->steps + 9) / 10;
    }
    p->t_draw = now;
    double el = now - p->t0;
    int run = done - p->start_step;
    double ips = el > 0 ? (double)images / el : 0;
    double eta = run > 0 ? el / run * (p->steps - done) : 0;
    char line[256], t[32], losses[64];
    int k = head(line, sizeof line, p);
    progress_fmt_time(t, sizeof t, eta);
    if (p->has_domain)
        snprintf(losses, sizeof losses, "cls %.3f dom %.3f", cls, dom);
    else
        snprintf(losses, sizeof losses, "cls %.3f", cls);
    if (p->mode == PROGRESS_BAR) {
        char bar[BAR_WIDTH + 1];
        int fill = (int)((long)done * BAR_WIDTH / p->steps);
        for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = 0;
        snprintf(line + k, sizeof line - (size_t)k, " [%s] %d/%d  %.0f img/s  ETA %s  %s", bar,
                 done, p->steps, ips, t, losses);
        fprintf(p->f, "\r%s\033[K", line);
        p->drawn = 1;
    } else {
        snprintf(line + k, sizeof line - (size_t)k, " step %d/%d  %.0f img/s  ETA %s  %s", done,
                 p->steps, ips, t, losses);
        fprintf(p->f, "%s\n", line);
    }
    fflush(p->f);
}

void progress_clear(progress *p) {
    if (p->mode == PROGRESS_BAR && p->drawn) {
        fputs("\r\033[K", p->f);
        fflush(p->f);
    }
    p->drawn = 0;
}
