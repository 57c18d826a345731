/* viz_testutil.h - helpers for the picture tests: decode a PNG written by the program (with
 * the project's libpng reader) and count the pixels of a colour inside a rectangle. */
#ifndef DANN_VIZ_TESTUTIL_H
#define DANN_VIZ_TESTUTIL_H

#include <stdint.h>

typedef struct {
    int w, h, c;
    uint8_t *pix;   /* planar (c, h, w), as png_decode gives it */
} vt_image;

/* Decodes the PNG at path; 0 (with a test failure naming the file) when it cannot. */
int vt_load(vt_image *im, const char *path);
void vt_free(vt_image *im);
/* Pixels in [x0, x1) x [y0, y1) whose RGB is within tol of rgb in every channel. */
long vt_count(const vt_image *im, int x0, int y0, int x1, int y1, const uint8_t rgb[3], int tol);
/* Pixels in the rectangle that are not (near) white. */
long vt_nonwhite(const vt_image *im, int x0, int y0, int x1, int y1);
/* The number of distinct 4-bit-per-channel colours in the whole picture. */
int vt_colours(const vt_image *im);

#endif
