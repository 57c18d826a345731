/* exp_table.c - the tables of `dann experiment` (exp.h, docs/EXPERIMENTS.md).
 *
 * A cell is every setting of a run but its seed (data pair, preset, network, mode, epochs,
 * batch, max-steps, source-val, lr, lambda, selection rules, average, eval-max). Over the
 * finished runs of a cell: the mean and the sample standard deviation (n - 1) of the last
 * epoch's target test accuracy, of each selection rule's pick, of the weight average, of the
 * oracle (best epoch by target test labels: a reference column, marked so, never a selection),
 * of the source test accuracy and of the time spent; the paper's number beside them. Then each
 * rule's distance from the oracle per run: the mean gap in points and how many picks lie within
 * one point. Files are written to .tmp and renamed. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/exp.h"

double exp_paper_number(const char *source, const char *target, const char *mode) {
    /* Ganin et al., JMLR 2016, Table 2, MNIST -> MNIST-M */
    if (strncmp(source, "mnist:", 6) || strncmp(target, "mnistm:", 7)) return NAN;
    if (!strcmp(mode, "source-only")) return 0.5225;
    if (!strcmp(mode, "dann")) return 0.7666;
    if (!strcmp(mode, "target-only")) return 0.9596;
    return NAN;
}

int exp_mean_std(const double *x, int n, double *mean, double *std) {
    double s = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) s += x[i], k++;
    *mean = k ? s / k : NAN;
    *std = NAN;
    if (k < 2) return k;
    double ss = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) ss += (x[i] - *mean) * (x[i] - *mean);
    *std = sqrt(ss / (k - 1));
    return k;
}

/* ---- cells -------------------------------------------------------------------------------- */

/* Columns: the last epoch, the rules, the average, then the oracle, source, wall. "Picks" are the
 * label-free choices compared with the oracle: last, the rules, the average. */
#define N_PICK (1 + SEL_N + 1)
static const char *col_key(int c) {
    static char k[16];
    if (c == EXP_COL_LAST) return "last";
    if (c >= EXP_COL_RULE0 && c < EXP_COL_RULE0 + SEL_N) return select_rule_name(c - EXP_COL_RULE0);
    if (c == EXP_COL_AVG) return "avg";
    if (c == EXP_COL_ORACLE) return "oracle";
    if (c == EXP_COL_SOURCE) return "source";
    snprintf(k, sizeof k, "wall_s");
    return k;
}

typedef struct {
    const exp_result *first;   /* the cell's settings */
    int pair;                  /* index of its (source, target) among the pairs */
    int n_runs, n_done;        /* runs found, finished */
    int *idx;                  /* the finished runs (indices into rs) */
    double mean[EXP_NCOL], std[EXP_NCOL];
    int n[EXP_NCOL];
    double gap[N_PICK];        /* mean gap to the oracle, points */
    int gap_n[N_PICK], within[N_PICK];
} cell;

static int same_num(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static int same_cell(const exp_result *a, const exp_result *b) {
    return !strcmp(a->source, b->source) && !strcmp(a->target, b->target) &&
           !strcmp(a->preset, b->preset) && !strcmp(a->arch, b->arch) && !strcmp(a->mode, b->mode) &&
           !strcmp(a->select, b->select) && !strcmp(a->average, b->average) &&
           same_num(a->epochs, b->epochs) && same_num(a->batch, b->batch) &&
           same_num(a->max_steps, b->max_steps) && same_num(a->source_val, b->source_val) &&
           same_num(a->lr, b->lr) && a->has_lambda == b->has_lambda &&
           (!a->has_lambda || a->lambda == b->lambda) && same_num(a->eval_max, b->eval_max) &&
           same_num(a->lambda_max, b->lambda_max) && same_num(a->gamma, b->gamma) &&
           same_num(a->iters_per_epoch, b->iters_per_epoch) && same_num(a->patience, b->patience) &&
           same_num(a->chunk, b->chunk) && same_num(a->select_n, b->select_n) &&
           !strcmp(a->source_norm, b->source_norm) && !strcmp(a->target_norm, b->target_norm);
}

static int mode_rank(const char *m) {
    return !strcmp(m, "source-only") ? 0 : !strcmp(m, "dann") ? 1 : !strcmp(m, "target-only") ? 2 : 3;
}

static int cmp_num(double a, double b) { return isnan(a) ? (isnan(b) ? 0 : 1) : isnan(b) ? -1 : (a > b) - (a < b); }

static int cmp_cell(const void *pa, const void *pb) {
    const cell *x = pa, *y = pb;
    const exp_result *a = x->first, *b = y->first;
    int c;
    if ((c = x->pair - y->pair) || (c = strcmp(a->preset, b->preset)) || (c = strcmp(a->net, b->net)) ||
        (c = strcmp(a->arch, b->arch)) || (c = cmp_num(a->epochs, b->epochs)) ||
        (c = cmp_num(a->batch, b->batch)) || (c = cmp_num(a->max_steps, b->max_steps)) ||
        (c = cmp_num(a->source_val, b->source_val)) || (c = cmp_num(a->lr, b->lr)) ||
        (c = strcmp(a->select, b->select)) || (c = strcmp(a->average, b->average)) ||
        (c = cmp_num(a->eval_max, b->eval_max)) ||
        (c = cmp_num(a->has_lambda ? a->lambda : NAN, b->has_lambda ? b->lambda : NAN)))
        return c;
    return mode_rank(a->mode) - mode_rank(b->mode);
}

/* The pair labels: "mnist -> mnistm" from the spec kinds, numbered when two pairs share one. */
typedef struct {
    const char *source, *target;
    char label[80];
} pair_label;

static void kind(const char *spec, char *out, size_t cap) {
    const char *c = strchr(spec, ':');
    snprintf(out, cap, "%.*s", c ? (int)(c - spec) : (int)strlen(spec), spec);
}

static int find_pair(pair_label *pl, int *np, const exp_result *r) {
    for (int k = 0; k < *np; k++)
        if (!strcmp(pl[k].source, r->source) && !strcmp(pl[k].target, r->target)) return k;
    pair_label *p = &pl[(*np)++];
    p->source = r->source, p->target = r->target;
    char a[24], b[24];
    kind(r->source, a, sizeof a);
    kind(r->target, b, sizeof b);
    snprintf(p->label, sizeof p->label, "%s -> %s", a, b);
    int dup = 1;
    for (int k = 0; k < *np - 1; k++) {
        char ka[24], kb[24];
        kind(pl[k].source, ka, sizeof ka);
        kind(pl[k].target, kb, sizeof kb);
        if (!strcmp(ka, a) && !strcmp(kb, b)) dup++;
    }
    if (dup > 1) snprintf(p->label, sizeof p->label, "%s -> %s #%d", a, b, dup);
    return *np - 1;
}

static void cell_stats(cell *c, const exp_result *rs) {
    double *x = malloc(sizeof *x * (size_t)(c->n_done ? c->n_done : 1));
    for (int col = 0; col < EXP_NCOL; col++) {
        for (int i = 0; i < c->n_done; i++) x[i] = rs[c->idx[i]].v[col];
        c->n[col] = exp_mean_std(x, c->n_done, &c->mean[col], &c->std[col]);
    }
    for (int p = 0; p < N_PICK; p++) {
        double s = 0;
        int k = 0, w = 0;
        for (int i = 0; i < c->n_done; i++) {
            const exp_result *r = &rs[c->idx[i]];
            const double o = r->v[EXP_COL_ORACLE], v = r->v[p];
            if (!isfinite(o) || !isfinite(v)) continue;
            const double gap = (o - v) * 100.0;
            s += gap, k++;
            w += gap <= 1.0 + 1e-9;
        }
        c->gap[p] = k ? s / k : NAN;
        c->gap_n[p] = k, c->within[p] = w;
    }
    free(x);
}

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *s, const char *fmt, ...) {
    if (s->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(s->buf + s->n, s->cap - s->n, fmt, ap);
        va_end(ap);
        if (w < 0) {
            s->oom = 1;
            return;
        }
        if ((size_t)w < s->cap - s->n) {
            s->n += (size_t)w;
            return;
        }
        size_t nc = (s->cap + (size_t)w + 1) * 2;
        char *g = realloc(s->buf, nc);
        if (!g) {
            s->oom = 1;
            return;
        }
        s->buf = g, s->cap = nc;
    }
}

/* A CSV field (no separator): quoted when it holds a comma, a quote or a line break. */
static void csv_str(sbuf *s, const char *v) {
    if (!strpbrk(v, ",\"\n\r")) {
        sb_printf(s, "%s", v);
        return;
    }
    sb_printf(s, "\"");
    for (const char *c = v; *c; c++) sb_printf(s, "%s%c", *c == '"' ? "\"" : "", *c);
    sb_printf(s, "\"");
}

/* ",value" (empty when not finite) */
static void csv_num(sbuf *s, double v) {
    sb_printf(s, ",");
    if (isfinite(v)) sb_printf(s, "%.6f", v);
}

static int write_file(const char *dir, const char *name, const sbuf *s, char *msg, size_t cap) {
    char path[EXP_PATH + 64], tmp[EXP_PATH + 72];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(s->buf, 1, s->n, f) == s->n;
    if (f) ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return exp_fail(msg, cap, "%s: cannot write", path);
    }
    return 0;
}

/* "0.7666 ± 0.0123", "0.7666" (one seed) or "-" */
static void md_acc(sbuf *s, double m, double sd, double scale, const char *fmt) {
    if (!isfinite(m)) {
        sb_printf(s, " - |");
        return;
    }
    sb_printf(s, " ");
    sb_printf(s, fmt, m * scale);
    if (isfinite(sd)) {
        sb_printf(s, " ± ");
        sb_printf(s, fmt, sd * scale);
    }
    sb_printf(s, " |");
}

static void settings_text(char *out, size_t cap, const exp_result *r) {
    char lam[48] = "";
    if (r->has_lambda) snprintf(lam, sizeof lam, ", lambda %g", r->lambda);
    size_t n = (size_t)snprintf(out, cap, "batch %g, max-steps %g, source-val %g, lr %g%s, select %s, "
                                "average %s, eval-max %g", r->batch, r->max_steps, r->source_val, r->lr,
                                lam, r->select[0] ? r->select : "none", r->average[0] ? r->average : "none",
                                r->eval_max);
    const struct { const char *name; double v; } opt[] = {
        {"lambda-max", r->has_lambda ? NAN : r->lambda_max}, {"gamma", r->gamma},
        {"iters-per-epoch", r->iters_per_epoch}, {"patience", r->patience}, {"chunk", r->chunk},
        {"select-n", r->select_n}};
    for (size_t k = 0; k < sizeof opt / sizeof *opt && n < cap; k++)
        if (!isnan(opt[k].v)) n += (size_t)snprintf(out + n, cap - n, ", %s %g", opt[k].name, opt[k].v);
    if (n < cap && (r->source_norm[0] || r->target_norm[0]))
        snprintf(out + n, cap - n, ", norm %s / %s", r->source_norm[0] ? r->source_norm : "?",
                 r->target_norm[0] ? r->target_norm : "?");
}

static void write_md(sbuf *s, const cell *cells, int nc, const pair_label *pl, const exp_result *rs,
                     int n) {
    int has_rule[SEL_N] = {0}, has_avg = 0, has_paper = 0, same_settings = 1;
    char avg_kind[64] = "";
    for (int c = 0; c < nc; c++) {
        for (int k = 0; k < SEL_N; k++) has_rule[k] |= cells[c].n[EXP_COL_RULE0 + k] > 0;
        if (cells[c].n[EXP_COL_AVG] > 0) {
            has_avg = 1;
            if (!avg_kind[0]) snprintf(avg_kind, sizeof avg_kind, "%s", cells[c].first->average);
        }
        has_paper |= isfinite(exp_paper_number(cells[c].first->source, cells[c].first->target,
                                               cells[c].first->mode));
        char a[768], b[768];
        settings_text(a, sizeof a, cells[c].first);
        settings_text(b, sizeof b, cells[0].first);
        same_settings &= !strcmp(a, b);
    }
    sb_printf(s, "Target test accuracy, mean ± sample standard deviation (n - 1) over the seeds "
                 "of the finished runs.\n\n");
    if (nc && same_settings) {
        char a[768];
        settings_text(a, sizeof a, cells[0].first);
        sb_printf(s, "Every cell: %s.\n\n", a);
    }
    sb_printf(s, "| pair | preset | net | mode | epochs |%s seeds | last epoch |", same_settings ? "" : " settings |");
    for (int k = 0; k < SEL_N; k++)
        if (has_rule[k]) sb_printf(s, " %s |", select_rule_name(k));
    if (has_avg) sb_printf(s, " average (%s) |", avg_kind);
    sb_printf(s, " *oracle* (ref.) | source test | time (min) |%s\n", has_paper ? " JMLR 2016 |" : "");
    int ncols = 10 + !same_settings + has_avg + has_paper;
    for (int k = 0; k < SEL_N; k++) ncols += has_rule[k];
    sb_printf(s, "|");
    for (int k = 0; k < ncols; k++) sb_printf(s, "---|");
    sb_printf(s, "\n");
    for (int c = 0; c < nc; c++) {
        const cell *x = &cells[c];
        const exp_result *f = x->first;
        sb_printf(s, "| %s | %s | %s | %s | %g |", pl[x->pair].label, f->preset, f->net, f->mode, f->epochs);
        if (!same_settings) {
            char a[768];
            settings_text(a, sizeof a, f);
            sb_printf(s, " %s |", a);
        }
        sb_printf(s, " %d", x->n_done);
        if (x->n_runs > x->n_done) sb_printf(s, " (+%d unfinished)", x->n_runs - x->n_done);
        sb_printf(s, " |");
        md_acc(s, x->mean[EXP_COL_LAST], x->std[EXP_COL_LAST], 1, "%.4f");
        for (int k = 0; k < SEL_N; k++)
            if (has_rule[k]) md_acc(s, x->mean[EXP_COL_RULE0 + k], x->std[EXP_COL_RULE0 + k], 1, "%.4f");
        if (has_avg) md_acc(s, x->mean[EXP_COL_AVG], x->std[EXP_COL_AVG], 1, "%.4f");
        md_acc(s, x->mean[EXP_COL_ORACLE], x->std[EXP_COL_ORACLE], 1, "*%.4f*");
        md_acc(s, x->mean[EXP_COL_SOURCE], x->std[EXP_COL_SOURCE], 1, "%.4f");
        md_acc(s, x->mean[EXP_COL_WALL], x->std[EXP_COL_WALL], 1.0 / 60, "%.1f");
        if (has_paper) {
            const double p = exp_paper_number(f->source, f->target, f->mode);
            if (isfinite(p)) sb_printf(s, " %.4f |", p);
            else sb_printf(s, " |");
        }
        sb_printf(s, "\n");
    }
    sb_printf(s, "\n");
    for (int k = 0; k < n; k++)
        if (!rs[k].finished)
            sb_printf(s, "Not finished (left out): `%s`, %d of %g epochs.\n", rs[k].dir, rs[k].epochs_done,
                      rs[k].epochs);
    sb_printf(s, "\nLabel-free picks against the oracle: the gap is the oracle's target accuracy minus "
                 "the pick's, in points (0.01), averaged over the finished runs; (k/n): picks within "
                 "1 point of the oracle.\n\n");
    sb_printf(s, "| pair | preset | net | mode | epochs | last epoch |");
    for (int k = 0; k < SEL_N; k++)
        if (has_rule[k]) sb_printf(s, " %s |", select_rule_name(k));
    if (has_avg) sb_printf(s, " average |");
    sb_printf(s, "\n|---|---|---|---|---|---|");
    for (int k = 0; k < SEL_N; k++)
        if (has_rule[k]) sb_printf(s, "---|");
    sb_printf(s, "%s\n", has_avg ? "---|" : "");
    /* per cell, then all runs together */
    double all_s[N_PICK] = {0};
    int all_n[N_PICK] = {0}, all_w[N_PICK] = {0};
    for (int c = 0; c <= nc; c++) {
        if (c < nc) {
            const exp_result *f = cells[c].first;
            sb_printf(s, "| %s | %s | %s | %s | %g |", pl[cells[c].pair].label, f->preset, f->net, f->mode,
                      f->epochs);
        } else {
            sb_printf(s, "| **all runs** | | | | |");
        }
        for (int p = 0; p < N_PICK; p++) {
            if ((p >= EXP_COL_RULE0 && p < EXP_COL_RULE0 + SEL_N && !has_rule[p - EXP_COL_RULE0]) ||
                (p == EXP_COL_AVG && !has_avg))
                continue;
            double g;
            int k, w;
            if (c < nc) {
                g = cells[c].gap[p], k = cells[c].gap_n[p], w = cells[c].within[p];
                if (k) all_s[p] += g * k, all_n[p] += k, all_w[p] += w;
            } else {
                k = all_n[p], w = all_w[p], g = k ? all_s[p] / k : NAN;
            }
            if (k) sb_printf(s, " %.2f (%d/%d) |", g, w, k);
            else sb_printf(s, " - |");
        }
        sb_printf(s, "\n");
    }
}

static void write_csv(sbuf *s, const cell *cells, int nc, const pair_label *pl) {
    sb_printf(s, "pair,source,target,preset,net,mode,epochs,batch,max_steps,source_val,lr,select,average,"
                 "eval_max,n_runs,n");
    for (int c = 0; c < EXP_NCOL; c++) sb_printf(s, ",%s_mean,%s_std", col_key(c), col_key(c));
    sb_printf(s, ",paper");
    for (int p = 0; p < N_PICK; p++) sb_printf(s, ",gap_%s,within1_%s", col_key(p), col_key(p));
    sb_printf(s, "\n");
    for (int c = 0; c < nc; c++) {
        const cell *x = &cells[c];
        const exp_result *f = x->first;
        const char *text[] = {f->source, f->target, f->preset, f->net, f->mode};
        csv_str(s, pl[x->pair].label);
        for (int k = 0; k < 5; k++) sb_printf(s, ","), csv_str(s, text[k]);
        sb_printf(s, ",%g,%g,%g,%g,%g,", f->epochs, f->batch, f->max_steps, f->source_val, f->lr);
        csv_str(s, f->select);
        sb_printf(s, ",");
        csv_str(s, f->average);
        sb_printf(s, ",%g,%d,%d", f->eval_max, x->n_runs, x->n_done);
        for (int k = 0; k < EXP_NCOL; k++) csv_num(s, x->mean[k]), csv_num(s, x->std[k]);
        csv_num(s, exp_paper_number(f->source, f->target, f->mode));
        for (int p = 0; p < N_PICK; p++) {
            csv_num(s, x->gap[p]);
            sb_printf(s, ",");
            if (x->gap_n[p]) sb_printf(s, "%d", x->within[p]);
        }
        sb_printf(s, "\n");
    }
}

static void write_runs_csv(sbuf *s, const exp_result *rs, int n, const cell *cells,
                           const int *cell_of, const pair_label *pl) {
    sb_printf(s, "dir,pair,preset,net,mode,epochs,seed,finished,epochs_done");
    for (int c = 0; c < EXP_NCOL; c++) sb_printf(s, ",%s", col_key(c));
    sb_printf(s, "\n");
    for (int i = 0; i < n; i++) {
        const exp_result *r = &rs[i];
        const char *text[] = {pl[cells[cell_of[i]].pair].label, r->preset, r->net, r->mode};
        csv_str(s, r->dir);
        for (int k = 0; k < 4; k++) sb_printf(s, ","), csv_str(s, text[k]);
        sb_printf(s, ",%g,%llu,%d,%d", r->epochs, (unsigned long long)r->seed, r->finished, r->epochs_done);
        for (int c = 0; c < EXP_NCOL; c++) csv_num(s, r->v[c]);
        sb_printf(s, "\n");
    }
}

int exp_write_tables(const exp_result *rs, int n, const char *dir, FILE *md, char *msg, size_t cap) {
    cell *cells = calloc((size_t)(n ? n : 1), sizeof *cells);
    int *cell_of = calloc((size_t)(n ? n : 1), sizeof *cell_of);
    int *idx = calloc((size_t)(n ? n : 1), sizeof *idx);
    pair_label *pl = calloc((size_t)(n ? n : 1), sizeof *pl);
    sbuf smd = {0}, scsv = {0}, sruns = {0};
    int rc = -1, nc = 0, np = 0;
    if (!cells || !cell_of || !idx || !pl) {
        exp_fail(msg, cap, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        int c = 0;
        while (c < nc && !same_cell(cells[c].first, &rs[i])) c++;
        if (c == nc) cells[nc++].first = &rs[i];
        cells[c].n_runs++;
    }
    for (int c = 0; c < nc; c++) cells[c].pair = find_pair(pl, &np, cells[c].first);  // path order
    qsort(cells, (size_t)nc, sizeof *cells, cmp_cell);
    /* finished runs of each cell, in path order */
    int used = 0;
    for (int c = 0; c < nc; c++) {
        cells[c].idx = idx + used;
        for (int i = 0; i < n; i++)
            if (same_cell(cells[c].first, &rs[i])) {
                cell_of[i] = c;
                if (rs[i].finished) cells[c].idx[cells[c].n_done++] = i;
            }
        used += cells[c].n_done;
        cell_stats(&cells[c], rs);
    }
    write_md(&smd, cells, nc, pl, rs, n);
    write_csv(&scsv, cells, nc, pl);
    write_runs_csv(&sruns, rs, n, cells, cell_of, pl);
    if (smd.oom || scsv.oom || sruns.oom) {
        exp_fail(msg, cap, "out of memory");
        goto out;
    }
    if (dir && (write_file(dir, "results.md", &smd, msg, cap) || write_file(dir, "results.csv", &scsv, msg, cap) ||
                write_file(dir, "runs.csv", &sruns, msg, cap)))
        goto out;
    if (md) fwrite(smd.buf, 1, smd.n, md);
    rc = 0;
out:
    free(cells), free(cell_of), free(idx), free(pl);
    free(smd.buf), free(scsv.buf), free(sruns.buf);
    return rc;
}
