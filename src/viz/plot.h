/* plot.h - a small plotting layer over cairo for the pictures of `dann plot`, `dann embed` and
 * `dann demo moons`: line charts (several series, legend, tick labels, optional log axes) and
 * scatter plots (colour by group, marker shape by class), written as PNG.
 *
 * A canvas is one picture: an optional title band on top and a grid of cells below it. An axes
 * is a plotting frame inside a cell; it maps data coordinates to pixels, draws the frame, ticks
 * and labels when it begins, clips what is drawn into it, and places its legend where the drawn
 * data crowds it least (a corner, or the middle of an edge) when it ends:
 *
 *     plot_canvas *c;
 *     plot_canvas_new(&c, 1200, 800, &err);
 *     plot_canvas_title(c, "Training curves");
 *     plot_axes ax;
 *     plot_range xr = PLOT_RANGE_EMPTY, yr = PLOT_RANGE_EMPTY;
 *     plot_range_add(&xr, x, n, 0); plot_range_add(&yr, y, n, 0);
 *     plot_axes_begin(&ax, c, plot_canvas_cell(c, 2, 3, 0), &opts, xr, yr);
 *     plot_line(&ax, x, y, n, (plot_style){.color = 0, .width = 2});
 *     plot_legend_add(&ax, "run A", (plot_style){.color = 0, .width = 2});
 *     plot_axes_end(&ax);
 *     plot_canvas_save(c, "out.png", &err);     (atomic: out.png.tmp, then rename)
 *     plot_canvas_free(c);
 *
 * Text uses the DejaVu Sans font (Debian fonts-dejavu-core) through cairo's toy font API.
 * Data values that are NaN (or <= 0 on a log axis) are skipped: a line breaks there. */
#ifndef DANN_VIZ_PLOT_H
#define DANN_VIZ_PLOT_H

#include "dann.h"

#define PLOT_MAX_LEGEND 24
#define PLOT_PALETTE 10   /* colours (tab10's), then they repeat */
#define PLOT_MARKERS 10   /* marker shapes, then they repeat */
#define PLOT_CROWD 32     /* the legend-placement grid over a frame (cells per side) */

typedef struct plot_canvas plot_canvas;

typedef struct { double x, y, w, h; } plot_rect;     /* pixels, y down */
typedef struct { double lo, hi; } plot_range;        /* lo > hi: empty */
#define PLOT_RANGE_EMPTY ((plot_range){1, 0})

/* The palette's colour i (wrapping), 8-bit RGB. The tests look for these in the pictures. */
void plot_palette(int i, unsigned char rgb[3]);

typedef enum {
    PLOT_CIRCLE = 0, PLOT_SQUARE, PLOT_TRIANGLE, PLOT_DIAMOND, PLOT_TRIANGLE_DOWN, PLOT_PLUS,
    PLOT_CROSS, PLOT_STAR, PLOT_PENTAGON, PLOT_HEXAGON
} plot_marker;

typedef struct {
    int color;        /* palette index; negative: grey */
    double width;     /* line width in pixels (0: 1.8) */
    int dash;         /* 0 solid, 1 dashed, 2 dotted */
    int marker;       /* for points and legend entries: a plot_marker, or -1 for none */
    double size;      /* marker size in pixels (0: 6) */
    double alpha;     /* 0: opaque */
} plot_style;

typedef struct {
    const char *title, *xlabel, *ylabel;   /* each may be NULL */
    int xlog, ylog;      /* log10 axes */
    int no_ticks;        /* no tick labels (t-SNE coordinates mean nothing) */
    int equal;           /* one data unit is as long on both axes */
} plot_axes_opts;

typedef struct {
    plot_canvas *c;
    plot_rect frame;                 /* the data area in pixels */
    double x0, x1, y0, y1;           /* the data range shown (log10 of it on a log axis) */
    int xlog, ylog;
    unsigned short crowd[PLOT_CROWD][PLOT_CROWD]; /* data drawn in each cell of the frame */
    int n_legend;
    struct { char label[64]; plot_style st; int is_line; } legend[PLOT_MAX_LEGEND];
} plot_axes;

/* A white width x height canvas (16 .. 8192 pixels each). DANN_ERR_ARG for other sizes,
 * DANN_ERR_NOMEM when cairo cannot make the surface. */
dann_status plot_canvas_new(plot_canvas **out, int width, int height, dann_error *err);
void plot_canvas_free(plot_canvas *c);
/* A title centred in a band at the top; the cells below start under it. */
void plot_canvas_title(plot_canvas *c, const char *title);
/* The height of the title band (0 without a title): where the cells start. */
double plot_canvas_top(const plot_canvas *c);
/* Cell i (row-major) of a rows x cols grid over the canvas below the title band. */
plot_rect plot_canvas_cell(const plot_canvas *c, int rows, int cols, int i);
/* Writes the canvas as PNG to path atomically (path.tmp written, fsync'd, renamed). On failure
 * no file is left at path.tmp and an existing path is untouched; the message names the file. */
dann_status plot_canvas_save(plot_canvas *c, const char *path, dann_error *err);

/* Widens r to hold the finite values v[0..n) (only the positive ones when log). */
void plot_range_add(plot_range *r, const double *v, int n, int log);
void plot_range_addf(plot_range *r, const float *v, int n, int log);

/* Starts an axes in cell: the frame, grid lines, ticks and tick labels, the title and the axis
 * labels. An empty range becomes [0, 1] (or [1, 10] on a log axis); a range of one value is
 * widened around it; linear ranges get a small margin and round to tick steps. */
void plot_axes_begin(plot_axes *ax, plot_canvas *c, plot_rect cell, const plot_axes_opts *o,
                     plot_range xr, plot_range yr);
/* What plot_axes_begin computes before drawing: the frame and the data range shown (to
 * evaluate a field on exactly that range first). Draws nothing. */
void plot_axes_layout(plot_axes *ax, plot_canvas *c, plot_rect cell, const plot_axes_opts *o,
                      plot_range xr, plot_range yr);
/* Pixel position of a data point (NaN when it cannot be shown on a log axis). */
void plot_axes_map(const plot_axes *ax, double x, double y, double *px, double *py);
/* Adds a legend entry (a line sample when is_line, else the style's marker); at most
 * PLOT_MAX_LEGEND, the rest are ignored. */
void plot_legend_add(plot_axes *ax, const char *label, plot_style st, int is_line);
/* Draws the legend box (when it has entries) where the frame is least crowded. */
void plot_axes_end(plot_axes *ax);
/* Draws the legend box with its top-left corner at pixel (x, y) instead (e.g. beside the
 * frame); then do not call plot_axes_end. */
void plot_legend_at(plot_axes *ax, double x, double y);

/* A polyline through (x[i], y[i]); non-finite points break it. */
void plot_line(plot_axes *ax, const double *x, const double *y, int n, plot_style st);
/* A horizontal reference line at y across the frame (thin, the style's colour). */
void plot_hline(plot_axes *ax, double y, plot_style st);
/* One marker per point (float coordinates, as embeddings are). */
void plot_points(plot_axes *ax, const float *x, const float *y, int n, plot_style st);
/* Paints a field over the frame: gw x gh values in [0, 1] on a regular grid spanning the axes'
 * data range (row 0 at the bottom), blended from white to palette colour c0 (value 0) or c1
 * (value 1) with strength |2v - 1| * alpha; then the 0.5 contour as a dark line when contour. */
void plot_field(plot_axes *ax, const float *v, int gw, int gh, int c0, int c1, double alpha,
                int contour);

/* Text at a pixel position: align 0 left, 1 centre, 2 right; size in pixels. */
void plot_text(plot_canvas *c, double x, double y, const char *s, double size, int align,
               int bold);

#endif
