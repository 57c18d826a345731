/* plot_draw.c - what is drawn inside an axes: polylines, reference lines, markers (ten shapes)
 * and filled fields with their 0.5 contour (marching squares over the grid's cell centres).
 * Everything is clipped to the axes frame. */
#include <math.h>
#include <stdlib.h>
#include "core/core.h"
#include "viz/plot_impl.h"

void plot_set_line(cairo_t *cr, plot_style st) {
    static const double dashed[2] = {7, 4}, dotted[2] = {1.5, 3};
    plot_set_color(cr, st.color, st.alpha);
    cairo_set_line_width(cr, st.width > 0 ? st.width : 1.8);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, st.dash == 2 ? CAIRO_LINE_CAP_ROUND : CAIRO_LINE_CAP_BUTT);
    if (st.dash == 1) cairo_set_dash(cr, dashed, 2, 0);
    else if (st.dash == 2) cairo_set_dash(cr, dotted, 2, 0);
    else cairo_set_dash(cr, NULL, 0, 0);
}

static void clip_to_frame(plot_axes *ax) {
    cairo_t *cr = ax->c->cr;
    cairo_save(cr);
    cairo_rectangle(cr, ax->frame.x + 1, ax->frame.y + 1, ax->frame.w - 2, ax->frame.h - 2);
    cairo_clip(cr);
}

/* A regular polygon of k corners, radius r, the first corner at angle a0. */
static void polygon(cairo_t *cr, double px, double py, int k, double r, double a0) {
    for (int i = 0; i < k; i++) {
        double a = a0 + 2 * M_PI * i / k;
        if (i == 0) cairo_move_to(cr, px + r * cos(a), py - r * sin(a));
        else cairo_line_to(cr, px + r * cos(a), py - r * sin(a));
    }
    cairo_close_path(cr);
}

void plot_marker_draw(cairo_t *cr, double px, double py, plot_style st) {
    double r = (st.size > 0 ? st.size : 6) / 2;
    int m = st.marker < 0 ? PLOT_CIRCLE : st.marker % PLOT_MARKERS;
    plot_set_color(cr, st.color, st.alpha);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_new_path(cr);
    switch ((plot_marker)m) {
    case PLOT_CIRCLE: cairo_arc(cr, px, py, r, 0, 2 * M_PI); break;
    case PLOT_SQUARE: cairo_rectangle(cr, px - r * 0.85, py - r * 0.85, r * 1.7, r * 1.7); break;
    case PLOT_TRIANGLE: polygon(cr, px, py, 3, r * 1.2, M_PI / 2); break;
    case PLOT_TRIANGLE_DOWN: polygon(cr, px, py, 3, r * 1.2, -M_PI / 2); break;
    case PLOT_DIAMOND: polygon(cr, px, py, 4, r * 1.15, M_PI / 2); break;
    case PLOT_PENTAGON: polygon(cr, px, py, 5, r * 1.1, M_PI / 2); break;
    case PLOT_HEXAGON: polygon(cr, px, py, 6, r * 1.05, 0); break;
    case PLOT_STAR:
        for (int i = 0; i < 10; i++) {
            double a = M_PI / 2 + M_PI * i / 5, q = i % 2 ? r * 0.5 : r * 1.25;
            if (i == 0) cairo_move_to(cr, px + q * cos(a), py - q * sin(a));
            else cairo_line_to(cr, px + q * cos(a), py - q * sin(a));
        }
        cairo_close_path(cr);
        break;
    case PLOT_PLUS:
    case PLOT_CROSS: {
        double d = m == PLOT_PLUS ? 0 : M_PI / 4, q = r * 1.15;
        for (int i = 0; i < 2; i++) {
            double a = d + i * M_PI / 2;
            cairo_move_to(cr, px - q * cos(a), py - q * sin(a));
            cairo_line_to(cr, px + q * cos(a), py + q * sin(a));
        }
        cairo_set_line_width(cr, fmax(1.4, r * 0.5));
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
        cairo_stroke(cr);
        return;
    }
    }
    cairo_fill(cr);
}

void plot_line(plot_axes *ax, const double *x, const double *y, int n, plot_style st) {
    cairo_t *cr = ax->c->cr;
    clip_to_frame(ax);
    plot_set_line(cr, st);
    int open = 0;
    double lx = 0, ly = 0;
    for (int i = 0; i < n; i++) {
        double px, py;
        plot_axes_map(ax, x[i], y[i], &px, &py);
        if (!isfinite(px) || !isfinite(py)) {
            open = 0;
            continue;
        }
        if (open) {
            cairo_line_to(cr, px, py);
            int k_n = (int)ceil(hypot(px - lx, py - ly) / 3);
            for (int k = 1; k < k_n; k++)
                plot_crowd(ax, lx + (px - lx) * k / k_n, ly + (py - ly) * k / k_n);
        } else cairo_move_to(cr, px, py);
        /* a point alone (its neighbours missing) would be invisible as a path: mark it */
        int next_ok = i + 1 < n && isfinite(x[i + 1]) && isfinite(y[i + 1]);
        if (!open && !next_ok) {
            cairo_stroke(cr);
            plot_marker_draw(cr, px, py, (plot_style){st.color, 0, 0, PLOT_CIRCLE, 5, st.alpha});
            plot_set_line(cr, st);
        }
        plot_crowd(ax, px, py);
        open = 1;
        lx = px;
        ly = py;
    }
    cairo_stroke(cr);
    cairo_restore(cr);
}

void plot_hline(plot_axes *ax, double y, plot_style st) {
    double px, py;
    plot_axes_map(ax, ax->xlog ? pow(10, ax->x0) : ax->x0, y, &px, &py);
    if (!isfinite(py)) return;
    cairo_t *cr = ax->c->cr;
    clip_to_frame(ax);
    if (st.width <= 0) st.width = 1;
    plot_set_line(cr, st);
    cairo_move_to(cr, ax->frame.x, py);
    cairo_line_to(cr, ax->frame.x + ax->frame.w, py);
    cairo_stroke(cr);
    cairo_restore(cr);
}

void plot_points(plot_axes *ax, const float *x, const float *y, int n, plot_style st) {
    clip_to_frame(ax);
    for (int i = 0; i < n; i++) {
        double px, py;
        plot_axes_map(ax, x[i], y[i], &px, &py);
        if (!isfinite(px) || !isfinite(py)) continue;
        plot_marker_draw(ax->c->cr, px, py, st);
        plot_crowd(ax, px, py);
    }
    cairo_restore(ax->c->cr);
}

/* ---- fields ------------------------------------------------------------------------------ */

/* Where the 0.5 level crosses the edge from grid value a at t = 0 to b at t = 1. */
static double cross_at(float a, float b) {
    double d = (double)b - a;
    return d != 0 ? (0.5 - a) / d : 0.5;
}

/* Marching squares over the cell centres: one segment per cell (two in the saddle cases). */
static void contour(plot_axes *ax, const float *v, int gw, int gh) {
    cairo_t *cr = ax->c->cr;
    plot_rect f = ax->frame;
    double cw = f.w / gw, ch = f.h / gh;
    cairo_set_source_rgba(cr, 0.15, 0.15, 0.15, 0.9);
    cairo_set_line_width(cr, 2);
    cairo_set_dash(cr, NULL, 0, 0);
    for (int j = 0; j + 1 < gh; j++)
        for (int i = 0; i + 1 < gw; i++) {
            /* corners: 0 (i,j) 1 (i+1,j) 2 (i+1,j+1) 3 (i,j+1); row 0 is the bottom */
            float c[4] = {v[(size_t)j * gw + i], v[(size_t)j * gw + i + 1],
                          v[(size_t)(j + 1) * gw + i + 1], v[(size_t)(j + 1) * gw + i]};
            int code = 0;
            for (int k = 0; k < 4; k++) code |= (c[k] >= 0.5f) << k;
            if (code == 0 || code == 15) continue;
            /* crossing points on edges e = 0 (0-1), 1 (1-2), 2 (3-2), 3 (0-3), in cell units */
            double ex[4], ey[4];
            ex[0] = cross_at(c[0], c[1]); ey[0] = 0;
            ex[1] = 1; ey[1] = cross_at(c[1], c[2]);
            ex[2] = cross_at(c[3], c[2]); ey[2] = 1;
            ex[3] = 0; ey[3] = cross_at(c[0], c[3]);
            static const int seg[16][4] = {
                {-1, -1, -1, -1}, {0, 3, -1, -1}, {0, 1, -1, -1}, {1, 3, -1, -1},
                {1, 2, -1, -1}, {0, 1, 2, 3}, {0, 2, -1, -1}, {2, 3, -1, -1},
                {2, 3, -1, -1}, {0, 2, -1, -1}, {0, 3, 1, 2}, {1, 2, -1, -1},
                {1, 3, -1, -1}, {0, 1, -1, -1}, {0, 3, -1, -1}, {-1, -1, -1, -1}};
            for (int s = 0; s < 4 && seg[code][s] >= 0; s += 2) {
                int a = seg[code][s], b = seg[code][s + 1];
                cairo_move_to(cr, f.x + (i + 0.5 + ex[a]) * cw, f.y + f.h - (j + 0.5 + ey[a]) * ch);
                cairo_line_to(cr, f.x + (i + 0.5 + ex[b]) * cw, f.y + f.h - (j + 0.5 + ey[b]) * ch);
            }
        }
    cairo_stroke(cr);
}

void plot_field(plot_axes *ax, const float *v, int gw, int gh, int c0, int c1, double alpha,
                int contour_line) {
    DANN_ASSERT(gw >= 2 && gh >= 2 && !ax->xlog && !ax->ylog);
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, gw, gh);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return;  /* out of memory: the picture goes without its background */
    }
    unsigned char a0[3], a1[3];
    plot_palette(c0, a0);
    plot_palette(c1, a1);
    unsigned char *px = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    for (int j = 0; j < gh; j++)
        for (int i = 0; i < gw; i++) {
            double t = v[(size_t)j * gw + i];
            t = isfinite(t) ? fmin(1, fmax(0, t)) : 0.5;
            const unsigned char *col = t < 0.5 ? a0 : a1;
            double s = fabs(2 * t - 1) * alpha;
            uint32_t rgb = 0;
            for (int k = 0; k < 3; k++) {
                double ch = 255 * (1 - s) + col[k] * s;
                rgb = rgb << 8 | (uint32_t)lround(ch);
            }
            *(uint32_t *)(px + (size_t)(gh - 1 - j) * stride + (size_t)i * 4) = rgb;
        }
    cairo_surface_mark_dirty(img);
    cairo_t *cr = ax->c->cr;
    clip_to_frame(ax);
    cairo_save(cr);
    cairo_translate(cr, ax->frame.x, ax->frame.y);
    cairo_scale(cr, ax->frame.w / gw, ax->frame.h / gh);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_BILINEAR);
    cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_paint(cr);
    cairo_restore(cr);
    if (contour_line) contour(ax, v, gw, gh);
    cairo_restore(cr);
    cairo_surface_destroy(img);
}
