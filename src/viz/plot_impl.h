/* plot_impl.h - what plot.c and plot_draw.c share: the canvas behind the opaque type, and the
 * helpers that set a style on the cairo context. */
#ifndef DANN_VIZ_PLOT_IMPL_H
#define DANN_VIZ_PLOT_IMPL_H

#include <cairo.h>
#include "viz/plot.h"

struct plot_canvas {
    cairo_surface_t *surface;
    cairo_t *cr;
    int width, height;
    double top;          /* height of the title band (0 without a title) */
};

/* Sets the source colour of palette index i (negative: grey) with alpha a (0: opaque). */
void plot_set_color(cairo_t *cr, int i, double a);
/* Sets colour, width and dash of a line style. */
void plot_set_line(cairo_t *cr, plot_style st);
/* Draws one marker of the style centred at (px, py). */
void plot_marker_draw(cairo_t *cr, double px, double py, plot_style st);
/* Counts a drawn pixel position towards the legend placement. */
void plot_crowd(plot_axes *ax, double px, double py);

#endif
