/* progress.h - the training progress display of `dann train` and `dann demo`.
 *
 * Bar mode (stdout is a terminal): one line redrawn in place with '\r' at most ~10 times a
 * second and cleared at the end of the epoch:
 *     epoch 3/10 [#####.....] 231/461  812 img/s  ETA 0:32  cls 0.412 dom 1.352
 * Lines mode (not a terminal: a log file, a pipe): plain lines, one each time another ~10% of
 * the epoch is done or at least every 30 s (but at most one per 2 s, so short epochs do not
 * flood the log), never a carriage return:
 *     epoch 3/10 step 231/461  812 img/s  ETA 0:32  cls 0.412 dom 1.352
 * img/s counts the images of both domains trained in this epoch (by this process); ETA is the
 * rest of the epoch at that pace; cls/dom are the running means of the class and domain losses
 * (dom is left out when there is no domain loss). Off mode prints nothing. */
#ifndef DANN_CLI_PROGRESS_H
#define DANN_CLI_PROGRESS_H

#include <stdio.h>

typedef struct {
    int mode;             /* PROGRESS_BAR, PROGRESS_LINES or PROGRESS_OFF (trainloop.h) */
    FILE *f;
    const char *label;    /* printed first when not NULL */
    int epoch, epochs;    /* 1-based epoch */
    int steps, start_step;
    int has_domain;
    double t0, t_draw;    /* epoch start, last draw */
    int next_line_step;   /* lines mode: next step worth a line */
    int drawn;            /* bar mode: a bar is on screen */
} progress;

/* Monotonic wall clock in seconds. */
double progress_now(void);

/* mode PROGRESS_AUTO picks BAR when f is a terminal, LINES otherwise. */
void progress_init(progress *p, int mode, FILE *f, const char *label);
/* A new epoch (1-based) of `steps` steps whose first start_step steps were done earlier. */
void progress_epoch_begin(progress *p, int epoch, int epochs, int steps, int start_step,
                          int has_domain);
/* After step `done` (steps done in the epoch, counting start_step), with `images` trained so far
 * in this epoch by this process and the running mean losses. */
void progress_update(progress *p, int done, long images, double cls, double dom);
/* Removes the bar (bar mode) so that the next line starts clean. */
void progress_clear(progress *p);

/* Formats seconds as M:SS or H:MM:SS into buf. */
void progress_fmt_time(char *buf, size_t cap, double seconds);

#endif
