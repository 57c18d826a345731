/* viz_testutil.c - decoding and pixel counting for the picture tests (see viz_testutil.h). */
#include <stdlib.h>
#include <string.h>
#include "cli_testutil.h"
#include "data/data.h"
#include "test.h"
#include "viz_testutil.h"

int vt_load(vt_image *im, const char *path) {
    memset(im, 0, sizeof *im);
    unsigned char *buf;
    long n = file_bytes(path, &buf);
    if (n < 0) {
        free(buf);
        CHECK(0, "%s: cannot read the picture", path);
        return 0;
    }
    dann_error err = {0};
    dann_status st = png_decode(buf, (size_t)n, path, &im->pix, &im->c, &im->h, &im->w, &err);
    free(buf);
    CHECK(st == DANN_OK, "%s: not a PNG: %s", path, err.msg);
    if (st == DANN_OK && im->c != 3) {
        CHECK(0, "%s: %d channels, expected RGB", path, im->c);
        vt_free(im);
        return 0;
    }
    return st == DANN_OK;
}

void vt_free(vt_image *im) {
    free(im->pix);
    memset(im, 0, sizeof *im);
}

static void clamp_rect(const vt_image *im, int *x0, int *y0, int *x1, int *y1) {
    if (*x0 < 0) *x0 = 0;
    if (*y0 < 0) *y0 = 0;
    if (*x1 > im->w) *x1 = im->w;
    if (*y1 > im->h) *y1 = im->h;
}

long vt_count(const vt_image *im, int x0, int y0, int x1, int y1, const uint8_t rgb[3], int tol) {
    clamp_rect(im, &x0, &y0, &x1, &y1);
    size_t plane = (size_t)im->w * im->h;
    long n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            size_t i = (size_t)y * im->w + x;
            int ok = 1;
            for (int k = 0; k < 3; k++) ok &= abs(im->pix[k * plane + i] - rgb[k]) <= tol;
            n += ok;
        }
    return n;
}

long vt_nonwhite(const vt_image *im, int x0, int y0, int x1, int y1) {
    static const uint8_t white[3] = {255, 255, 255};
    clamp_rect(im, &x0, &y0, &x1, &y1);
    long all = (long)(x1 - x0) * (y1 - y0);
    return all - vt_count(im, x0, y0, x1, y1, white, 8);
}

int vt_colours(const vt_image *im) {
    static unsigned char seen[4096];
    memset(seen, 0, sizeof seen);
    size_t plane = (size_t)im->w * im->h;
    int n = 0;
    for (size_t i = 0; i < plane; i++) {
        int key = (im->pix[i] >> 4) << 8 | (im->pix[plane + i] >> 4) << 4 | im->pix[2 * plane + i] >> 4;
        if (!seen[key]) seen[key] = 1, n++;
    }
    return n;
}
