/* plot.c - the canvas (cairo image surface, title band, grid of cells, atomic PNG writing), the
 * axes (data-to-pixel mapping, ticks at 1/2/5 x 10^k steps or decades, tick labels, axis
 * labels) and the legend. The drawing primitives are in plot_draw.c. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fontconfig/fontconfig.h>
#include "core/core.h"
#include "viz/plot_impl.h"

#define FONT "DejaVu Sans"
#define TITLE_BAND 34.0
#define LEGEND_PAD 7.0
#define LEGEND_LINE 16.0
#define LEGEND_SAMPLE 26.0

static const unsigned char palette[PLOT_PALETTE][3] = {
    {31, 119, 180}, {214, 39, 40}, {44, 160, 44}, {255, 127, 14}, {148, 103, 189},
    {140, 86, 75}, {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

void plot_palette(int i, unsigned char rgb[3]) {
    int k = ((i % PLOT_PALETTE) + PLOT_PALETTE) % PLOT_PALETTE;
    memcpy(rgb, palette[k], 3);
}

void plot_set_color(cairo_t *cr, int i, double a) {
    unsigned char c[3] = {90, 90, 90};
    if (i >= 0) plot_palette(i, c);
    cairo_set_source_rgba(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0, a > 0 ? a : 1.0);
}

/* ---- canvas ------------------------------------------------------------------------------ */

/* cairo's toy font API loads fontconfig's configuration once and keeps it for the process;
 * released at exit so that LeakSanitizer sees only the program's own allocations. */
static void release_fonts(void) {
    cairo_debug_reset_static_data();
    FcFini();
}

dann_status plot_canvas_new(plot_canvas **out, int width, int height, dann_error *err) {
    *out = NULL;
    if (width < 16 || height < 16 || width > 8192 || height > 8192)
        return dann_fail(err, DANN_ERR_ARG, "picture size %dx%d is outside 16..8192 pixels", width,
                         height);
    plot_canvas *c = dann_calloc(1, sizeof *c, err);
    if (!c) return DANN_ERR_NOMEM;
    c->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    if (cairo_surface_status(c->surface) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(c->surface);
        free(c);
        return dann_fail(err, DANN_ERR_NOMEM, "cannot make a %dx%d picture", width, height);
    }
    static int registered;
    if (!registered) registered = atexit(release_fonts) == 0;
    c->cr = cairo_create(c->surface);
    c->width = width;
    c->height = height;
    cairo_set_source_rgb(c->cr, 1, 1, 1);
    cairo_paint(c->cr);
    *out = c;
    return DANN_OK;
}

void plot_canvas_free(plot_canvas *c) {
    if (!c) return;
    cairo_destroy(c->cr);
    cairo_surface_destroy(c->surface);
    free(c);
}

void plot_text(plot_canvas *c, double x, double y, const char *s, double size, int align,
               int bold) {
    cairo_t *cr = c->cr;
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    double dx = align == 1 ? -(te.x_advance / 2) : align == 2 ? -te.x_advance : 0;
    cairo_move_to(cr, x + dx, y);
    cairo_show_text(cr, s);
}

static double text_width(cairo_t *cr, const char *s, double size) {
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    return te.x_advance;
}

void plot_canvas_title(plot_canvas *c, const char *title) {
    c->top = TITLE_BAND;
    cairo_set_source_rgb(c->cr, 0, 0, 0);
    plot_text(c, c->width / 2.0, 23, title, 17, 1, 1);
}

double plot_canvas_top(const plot_canvas *c) { return c->top; }

plot_rect plot_canvas_cell(const plot_canvas *c, int rows, int cols, int i) {
    DANN_ASSERT(rows > 0 && cols > 0 && i >= 0 && i < rows * cols);
    double cw = c->width / (double)cols, ch = (c->height - c->top) / (double)rows;
    return (plot_rect){(i % cols) * cw, c->top + (i / cols) * ch, cw, ch};
}

typedef struct {
    int fd;
    int failed, err_no;
} png_sink;

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int len) {
    png_sink *s = closure;
    while (len > 0) {
        ssize_t k = write(s->fd, data, len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            s->failed = 1;
            s->err_no = k < 0 ? errno : EIO;
            return CAIRO_STATUS_WRITE_ERROR;
        }
        data += k;
        len -= (unsigned)k;
    }
    return CAIRO_STATUS_SUCCESS;
}

dann_status plot_canvas_save(plot_canvas *c, const char *path, dann_error *err) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return dann_fail(err, DANN_ERR_ARG, "%s: path too long", path);
    cairo_surface_flush(c->surface);
    png_sink s = {open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644), 0, 0};
    if (s.fd < 0) return dann_fail(err, DANN_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    cairo_status_t cs = cairo_surface_write_to_png_stream(c->surface, sink_write, &s);
    int ok = cs == CAIRO_STATUS_SUCCESS && !s.failed;
    int e = s.failed ? s.err_no : 0;
    if (ok && fsync(s.fd) != 0) ok = 0, e = errno;
    if (close(s.fd) != 0 && ok) ok = 0, e = errno;
    if (ok && rename(tmp, path) != 0) ok = 0, e = errno;
    if (!ok) {
        unlink(tmp);
        return dann_fail(err, DANN_ERR_IO, "%s: cannot write: %s", path,
                         e ? strerror(e) : cairo_status_to_string(cs));
    }
    return DANN_OK;
}

/* ---- ranges and ticks -------------------------------------------------------------------- */

void plot_range_add(plot_range *r, const double *v, int n, int log) {
    for (int i = 0; i < n; i++) {
        double x = v[i];
        if (!isfinite(x) || (log && x <= 0)) continue;
        if (r->lo > r->hi) r->lo = r->hi = x;
        else if (x < r->lo) r->lo = x;
        else if (x > r->hi) r->hi = x;
    }
}

void plot_range_addf(plot_range *r, const float *v, int n, int log) {
    for (int i = 0; i < n; i++) {
        double x = v[i];
        plot_range_add(r, &x, 1, log);
    }
}

/* The shown range of one axis (log10 units on a log axis). */
static void axis_range(plot_range r, int log, double *lo, double *hi) {
    if (r.lo > r.hi) r = log ? (plot_range){1, 10} : (plot_range){0, 1};
    double a = log ? log10(r.lo) : r.lo, b = log ? log10(r.hi) : r.hi;
    if (b - a <= 1e-12 * fmax(1, fabs(a))) {
        double d = log ? 0.5 : (a != 0 ? fabs(a) * 0.1 : 0.5);
        a -= d;
        b += d;
    }
    double m = 0.04 * (b - a);
    *lo = a - m;
    *hi = b + m;
}

/* The 1/2/5 x 10^k step giving about `want` intervals over span. */
static double nice_step(double span, int want) {
    double raw = span / want, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

typedef struct { double pos[32]; char label[32][24]; int n; } ticks;

static void tick_label(char *out, double v, double step) {
    if (fabs(v) < step * 1e-6) v = 0;
    double a = fabs(v);
    if (a != 0 && (a >= 1e5 || a < 1e-4)) snprintf(out, 24, "%.3g", v);
    else {
        int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(out, 24, "%.*f", dec, v);
    }
}

static void make_ticks(ticks *t, double lo, double hi, int log, int want) {
    t->n = 0;
    if (log) {
        int few = hi - lo < 2.2;
        for (int k = (int)floor(lo); k <= (int)ceil(hi) && t->n < 30; k++) {
            static const double mult[3] = {1, 2, 5};
            for (int j = 0; j < (few ? 3 : 1) && t->n < 30; j++) {
                double v = mult[j] * pow(10, k), lv = log10(v);
                if (lv < lo - 1e-9 || lv > hi + 1e-9) continue;
                t->pos[t->n] = lv;
                snprintf(t->label[t->n++], 24, "%g", v);
            }
        }
        return;
    }
    double step = nice_step(hi - lo, want);
    for (double k = ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9 && t->n < 30; k++) {
        t->pos[t->n] = k * step;
        tick_label(t->label[t->n++], k * step, step);
    }
}

/* ---- axes -------------------------------------------------------------------------------- */

void plot_axes_map(const plot_axes *ax, double x, double y, double *px, double *py) {
    if (ax->xlog) x = x > 0 ? log10(x) : NAN;
    if (ax->ylog) y = y > 0 ? log10(y) : NAN;
    *px = ax->frame.x + (x - ax->x0) / (ax->x1 - ax->x0) * ax->frame.w;
    *py = ax->frame.y + ax->frame.h - (y - ax->y0) / (ax->y1 - ax->y0) * ax->frame.h;
}

void plot_crowd(plot_axes *ax, double px, double py) {
    double u = (px - ax->frame.x) / ax->frame.w, v = (py - ax->frame.y) / ax->frame.h;
    if (!(u >= 0 && u < 1 && v >= 0 && v < 1)) return;
    unsigned short *cell = &ax->crowd[(int)(v * PLOT_CROWD)][(int)(u * PLOT_CROWD)];
    if (*cell < 65535) (*cell)++;
}

/* How much drawn data lies under a box (pixels) of the frame. */
static long crowd_under(const plot_axes *ax, double x, double y, double w, double h) {
    plot_rect f = ax->frame;
    int i0 = (int)fmax(0, floor((x - f.x) / f.w * PLOT_CROWD));
    int i1 = (int)fmin(PLOT_CROWD - 1, floor((x + w - f.x) / f.w * PLOT_CROWD));
    int j0 = (int)fmax(0, floor((y - f.y) / f.h * PLOT_CROWD));
    int j1 = (int)fmin(PLOT_CROWD - 1, floor((y + h - f.y) / f.h * PLOT_CROWD));
    long sum = 0;
    for (int j = j0; j <= j1; j++)
        for (int i = i0; i <= i1; i++) sum += ax->crowd[j][i];
    return sum;
}

void plot_axes_layout(plot_axes *ax, plot_canvas *c, plot_rect cell, const plot_axes_opts *o,
                      plot_range xr, plot_range yr) {
    static const plot_axes_opts none = {0};
    if (!o) o = &none;
    memset(ax, 0, sizeof *ax);
    ax->c = c;
    ax->xlog = o->xlog;
    ax->ylog = o->ylog;
    axis_range(xr, o->xlog, &ax->x0, &ax->x1);
    axis_range(yr, o->ylog, &ax->y0, &ax->y1);
    double left = o->no_ticks ? 14 : 66, bottom = o->no_ticks ? 14 : 40;
    if (o->ylabel && o->no_ticks) left += 10;
    if (o->xlabel) bottom += 16;
    double top = o->title ? 30 : 12, right = 16;
    ax->frame = (plot_rect){cell.x + left, cell.y + top, fmax(8, cell.w - left - right),
                            fmax(8, cell.h - top - bottom)};
    if (o->equal) {
        double sx = ax->frame.w / (ax->x1 - ax->x0), sy = ax->frame.h / (ax->y1 - ax->y0);
        if (sx > sy) {
            double half = ax->frame.w / sy / 2, mid = (ax->x0 + ax->x1) / 2;
            ax->x0 = mid - half;
            ax->x1 = mid + half;
        } else {
            double half = ax->frame.h / sx / 2, mid = (ax->y0 + ax->y1) / 2;
            ax->y0 = mid - half;
            ax->y1 = mid + half;
        }
    }
}

void plot_axes_begin(plot_axes *ax, plot_canvas *c, plot_rect cell, const plot_axes_opts *o,
                     plot_range xr, plot_range yr) {
    static const plot_axes_opts none = {0};
    if (!o) o = &none;
    plot_axes_layout(ax, c, cell, o, xr, yr);
    cairo_t *cr = c->cr;
    plot_rect f = ax->frame;
    ticks tx, ty;
    make_ticks(&tx, ax->x0, ax->x1, ax->xlog, (int)fmax(2, f.w / 90));
    make_ticks(&ty, ax->y0, ax->y1, ax->ylog, (int)fmax(2, f.h / 60));
    cairo_set_line_width(cr, 1);
    cairo_set_dash(cr, NULL, 0, 0);
    if (!o->no_ticks) {
        cairo_set_source_rgb(cr, 0.90, 0.90, 0.90);
        for (int i = 0; i < tx.n; i++) {
            double px = round(f.x + (tx.pos[i] - ax->x0) / (ax->x1 - ax->x0) * f.w) + 0.5;
            cairo_move_to(cr, px, f.y);
            cairo_line_to(cr, px, f.y + f.h);
        }
        for (int i = 0; i < ty.n; i++) {
            double py = round(f.y + f.h - (ty.pos[i] - ax->y0) / (ax->y1 - ax->y0) * f.h) + 0.5;
            cairo_move_to(cr, f.x, py);
            cairo_line_to(cr, f.x + f.w, py);
        }
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        for (int i = 0; i < tx.n; i++) {
            double px = f.x + (tx.pos[i] - ax->x0) / (ax->x1 - ax->x0) * f.w;
            cairo_move_to(cr, px, f.y + f.h);
            cairo_line_to(cr, px, f.y + f.h + 4);
            plot_text(c, px, f.y + f.h + 17, tx.label[i], 11, 1, 0);
        }
        for (int i = 0; i < ty.n; i++) {
            double py = f.y + f.h - (ty.pos[i] - ax->y0) / (ax->y1 - ax->y0) * f.h;
            cairo_move_to(cr, f.x - 4, py);
            cairo_line_to(cr, f.x, py);
            plot_text(c, f.x - 7, py + 4, ty.label[i], 11, 2, 0);
        }
        cairo_stroke(cr);
    }
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_rectangle(cr, f.x + 0.5, f.y + 0.5, f.w - 1, f.h - 1);
    cairo_stroke(cr);
    if (o->title) plot_text(c, f.x + f.w / 2, cell.y + 20, o->title, 13, 1, 1);
    if (o->xlabel) plot_text(c, f.x + f.w / 2, f.y + f.h + (o->no_ticks ? 16 : 34), o->xlabel, 12, 1, 0);
    if (o->ylabel) {
        cairo_save(cr);
        cairo_translate(cr, cell.x + 15, f.y + f.h / 2);
        cairo_rotate(cr, -M_PI / 2);
        plot_text(c, 0, 0, o->ylabel, 12, 1, 0);
        cairo_restore(cr);
    }
}

void plot_legend_add(plot_axes *ax, const char *label, plot_style st, int is_line) {
    if (ax->n_legend == PLOT_MAX_LEGEND) return;
    snprintf(ax->legend[ax->n_legend].label, sizeof ax->legend[0].label, "%s", label);
    ax->legend[ax->n_legend].st = st;
    ax->legend[ax->n_legend++].is_line = is_line;
}

static void legend_size(const plot_axes *ax, double *w, double *h) {
    double tw = 0;
    for (int i = 0; i < ax->n_legend; i++) tw = fmax(tw, text_width(ax->c->cr, ax->legend[i].label, 11));
    *w = LEGEND_PAD * 3 + LEGEND_SAMPLE + tw;
    *h = LEGEND_PAD * 2 + LEGEND_LINE * ax->n_legend;
}

void plot_legend_at(plot_axes *ax, double x, double y) {
    if (!ax->n_legend) return;
    cairo_t *cr = ax->c->cr;
    double w, h;
    legend_size(ax, &w, &h);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_rectangle(cr, x + 0.5, y + 0.5, w, h);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.7, 0.7, 0.7);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (int i = 0; i < ax->n_legend; i++) {
        double cy = y + LEGEND_PAD + LEGEND_LINE * i + LEGEND_LINE / 2;
        plot_style st = ax->legend[i].st;
        if (ax->legend[i].is_line) {
            plot_set_line(cr, st);
            cairo_move_to(cr, x + LEGEND_PAD, cy);
            cairo_line_to(cr, x + LEGEND_PAD + LEGEND_SAMPLE, cy);
            cairo_stroke(cr);
        }
        if (st.marker >= 0) {
            if (st.alpha > 0 && st.alpha < 0.8) st.alpha = 0.8;
            if (st.size > 0 && st.size < 7) st.size = 7;
            plot_marker_draw(cr, x + LEGEND_PAD + LEGEND_SAMPLE / 2, cy, st);
        }
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        plot_text(ax->c, x + LEGEND_PAD * 2 + LEGEND_SAMPLE, cy + 4, ax->legend[i].label, 11, 0, 0);
    }
}

void plot_axes_end(plot_axes *ax) {
    if (!ax->n_legend) return;
    double w, h;
    legend_size(ax, &w, &h);
    /* candidate places, in order of preference: the corners, then the middles of the edges */
    plot_rect f = ax->frame;
    double xs[3] = {f.x + f.w - w - 6, f.x + 6, f.x + (f.w - w) / 2};
    double ys[3] = {f.y + 6, f.y + f.h - h - 6, f.y + (f.h - h) / 2};
    static const int cand[8][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}, {2, 0}, {2, 1}, {0, 2}, {1, 2}};
    double x = xs[0], y = ys[0];
    long best = -1;
    for (int k = 0; k < 8; k++) {
        long c = crowd_under(ax, xs[cand[k][0]], ys[cand[k][1]], w, h);
        if (best < 0 || c < best) {
            best = c;
            x = xs[cand[k][0]];
            y = ys[cand[k][1]];
        }
    }
    plot_legend_at(ax, x, y);
}
