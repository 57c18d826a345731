/* test_jpeg.c - JPEG images: jpeg_decode against PIL's decoding of committed tiny files
 * (tools/make_jpeg_fixtures.py: RGB 4:2:0 / 4:2:2 / 4:4:4, grey, progressive, odd sizes), the
 * decode + PIL-resize pipeline of the image folders against PIL's, malformed files (truncated at
 * every length class, bad signature, CMYK, empty), and folders mixing PNG and JPEG files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/data.h"
#include "data/load.h"
#include "data_testutil.h"
#include "test.h"

#define FIX "tests/fixtures/jpeg_pil.bin"
#define JDIR "tests/fixtures/jpeg"

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Every committed JPEG decodes to PIL's pixels, and decode + resize to 28x28 gives PIL's
 * Image.resize(BILINEAR) bytes. Measured on Debian 12 (libjpeg62-turbo 2.1.5, Pillow 9.4): no
 * pixel differs, so the test asks for equality (docs/DATA.md). */
TEST(data_jpeg_decodes_as_pil) {
    tu_buf f = {0};
    if (!tu_read(FIX, &f)) {
        CHECK(0, "cannot read %s (run from the repository root)", FIX);
        return;
    }
    const uint8_t *p = f.p, *end = f.p + f.n;
    CHECK(f.n > 8 && !memcmp(p, "JPG1", 4), "%s: bad magic", FIX);
    uint32_t n = rd32(p + 4);
    p += 8;
    int worst_dec = 0, worst_rs = 0, files = 0;
    data_scratch scratch = {0};
    for (uint32_t k = 0; k < n && p + 4 <= end; k++) {
        char name[128], path[256];
        uint32_t nl = rd32(p);
        if (nl >= sizeof name || p + 4 + nl + 12 > end) break;
        memcpy(name, p + 4, nl);
        name[nl] = 0;
        p += 4 + nl;
        const int c = (int)rd32(p), h = (int)rd32(p + 4), w = (int)rd32(p + 8);
        p += 12;
        const uint8_t *want = p, *want_rs = p + (size_t)c * h * w;
        p = want_rs + (size_t)c * 28 * 28;
        if (p > end) break;
        snprintf(path, sizeof path, "%s/%s.jpg", JDIR, name);
        tu_buf j = {0};
        if (!tu_read(path, &j)) {
            CHECK(0, "cannot read %s", path);
            continue;
        }
        uint8_t *pix = NULL, rs[3 * 28 * 28];
        int dc, dh, dw, ic, ih, iw;
        dann_error err = {0};
        dann_status st = jpeg_decode(j.p, j.n, path, &pix, &dc, &dh, &dw, &err);
        CHECK(st == DANN_OK, "%s: %s", path, err.msg);
        if (!st) {
            CHECK(dc == c && dh == h && dw == w, "%s: decoded %dx%dx%d, PIL %dx%dx%d", path, dc, dh,
                  dw, c, h, w);
            for (size_t i = 0; dc == c && dh == h && dw == w && i < (size_t)c * h * w; i++) {
                int d = abs((int)pix[i] - (int)want[i]);
                if (d > worst_dec) worst_dec = d;
            }
            free(pix);
        }
        st = image_to_slot(rs, 0, 28, 28, j.p, j.n, path, &ic, &ih, &iw, &scratch, &err);
        CHECK(st == DANN_OK && ic == c && ih == h && iw == w, "%s: slot: %s", path, err.msg);
        for (size_t i = 0; !st && ic == c && i < (size_t)c * 28 * 28; i++) {
            int d = abs((int)rs[i] - (int)want_rs[i]);
            if (d > worst_rs) worst_rs = d;
        }
        free(j.p);
        files++;
    }
    data_scratch_free(&scratch);
    free(f.p);
    CHECK(files == (int)n && n >= 6, "%d of %u cases read from %s", files, n, FIX);
    printf("    jpeg: max |dann - PIL| decoded %d, resized to 28x28 %d (%d files)\n", worst_dec,
           worst_rs, files);
    CHECK(worst_dec == 0, "decoded pixels differ from PIL's by up to %d", worst_dec);
    CHECK(worst_rs == 0, "decoded + resized pixels differ from PIL's by up to %d", worst_rs);
}

/* Malformed JPEGs fail with one message naming the file, never a crash or a grey-filled image. */
TEST(data_jpeg_errors) {
    dann_error err = {0};
    uint8_t *pix = NULL;
    int c, h, w;
    tu_buf j = {0};
    const char *good = JDIR "/rgb_progressive_29x31.jpg", *base = JDIR "/rgb420_q90_17x23.jpg";
    /* CMYK: refused, saying so */
    if (tu_read(JDIR "/cmyk_12x12.jpg", &j)) {
        CHECK(jpeg_decode(j.p, j.n, "c.jpg", &pix, &c, &h, &w, &err) == DANN_ERR_FORMAT &&
              strstr(err.msg, "c.jpg") && strstr(err.msg, "CMYK") && !pix, "cmyk: %s", err.msg);
        free(j.p);
    } else {
        CHECK(0, "cannot read the CMYK fixture");
    }
    /* every truncation of a baseline and a progressive file fails (never decodes half) */
    for (int f = 0; f < 2; f++) {
        if (!tu_read(f ? good : base, &j)) {
            CHECK(0, "cannot read %s", f ? good : base);
            continue;
        }
        int accepted = 0;
        for (size_t len = 0; len + 2 < j.n; len += 1 + len / 16) {
            dann_status st = jpeg_decode(j.p, len, "t.jpg", &pix, &c, &h, &w, &err);
            if (st == DANN_OK) {
                accepted++;
                free(pix);
            } else {
                CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "t.jpg") && !pix,
                      "truncated at %zu: status %d: %s", len, st, err.msg);
            }
        }
        CHECK(accepted == 0, "%s: %d truncations decoded", f ? good : base, accepted);
        /* a corrupted entropy-coded segment: an error or an image, never a crash */
        for (size_t i = j.n / 2; i < j.n / 2 + 8; i++) j.p[i] ^= 0x5a;
        if (jpeg_decode(j.p, j.n, "x.jpg", &pix, &c, &h, &w, &err) == DANN_OK) free(pix);
        free(j.p);
    }
    /* bad signature, empty input, a PNG given to the dispatcher, neither format */
    CHECK(jpeg_decode((const uint8_t *)"\xff\xd9\xff", 3, "s.jpg", &pix, &c, &h, &w, &err) ==
              DANN_ERR_FORMAT && strstr(err.msg, "not a JPEG"), "signature: %s", err.msg);
    CHECK(jpeg_decode((const uint8_t *)"", 0, "e.jpg", &pix, &c, &h, &w, &err) == DANN_ERR_FORMAT,
          "empty: %s", err.msg);
    CHECK(image_decode((const uint8_t *)"GIF89a....", 10, "g.jpg", &pix, &c, &h, &w, &err) ==
              DANN_ERR_FORMAT && strstr(err.msg, "g.jpg") && strstr(err.msg, "not a PNG or JPEG"),
          "unknown format: %s", err.msg);
    tu_buf png = {0};
    uint8_t grey[6] = {1, 2, 3, 4, 5, 6};
    tu_png_encode(&png, 3, 2, PNG_COLOR_TYPE_GRAY, 8, 0, grey, NULL, 0, NULL, 0);
    CHECK(image_decode(png.p, png.n, "p.jpg", &pix, &c, &h, &w, &err) == DANN_OK && c == 1 &&
              h == 2 && w == 3 && pix[5] == 6, "a PNG named .jpg is read by its signature: %s",
          err.msg);
    free(pix);
    free(png.p);
}

/* A folder mixing PNG and JPEG files (any letter case) keeps every image, in name order, with
 * its class; other files are counted, not read. */
TEST(data_folder_png_and_jpeg) {
    const char *root = test_tmpdir();
    char d[700], spec[800];
    snprintf(d, sizeof d, "%s/mixed", root);
    tu_mkdir(d);
    tu_mkdir(tu_path(d, "a"));
    tu_mkdir(tu_path(d, "b"));
    uint8_t rgb[16 * 16 * 3], g[20 * 20], red[3] = {200, 30, 40}, v = 90;
    for (int i = 0; i < 16 * 16; i++) memcpy(rgb + 3 * i, red, 3);
    memset(g, 160, sizeof g);
    tu_png_solid(tu_path(d, "a/1.png"), 12, 12, 1, &v);
    tu_jpeg_write(tu_path(d, "a/2.jpg"), 16, 16, 3, rgb, 95);
    tu_jpeg_write(tu_path(d, "a/3.JPEG"), 20, 20, 1, g, 95);
    tu_jpeg_write(tu_path(d, "b/x.Jpg"), 16, 16, 3, rgb, 95);
    tu_png_solid(tu_path(d, "b/y.png"), 30, 10, 3, red);
    tu_write(tu_path(d, "b/notes.txt"), "x", 1);
    snprintf(spec, sizeof spec, "folder:%s", d);
    dataset ds;
    dann_error err = {0};
    dann_status st = dataset_load(&ds, spec, DATA_TRAIN, 8, 8, &err);
    CHECK(st == DANN_OK, "%s", err.msg);
    if (st) return;
    const int want_y[5] = {0, 0, 0, 1, 1};
    const uint8_t want[5][3] = {{90, 90, 90}, {200, 30, 40}, {160, 160, 160}, {200, 30, 40},
                                {200, 30, 40}};
    CHECK(ds.n == 5 && ds.c == 3 && ds.n_classes == 2 && ds.n_ignored == 1 && ds.n_grey == 2,
          "n %d c %d classes %d ignored %d grey %d", ds.n, ds.c, ds.n_classes, ds.n_ignored,
          ds.n_grey);
    CHECK(ds.in_h_min == 10 && ds.in_h_max == 20 && ds.in_w_min == 12 && ds.in_w_max == 30,
          "sizes %d..%d x %d..%d", ds.in_h_min, ds.in_h_max, ds.in_w_min, ds.in_w_max);
    CHECK(ds.class_names && !strcmp(ds.class_names[0], "a") && !strcmp(ds.class_names[1], "b"),
          "class names");
    int worst = 0;
    for (int i = 0; i < ds.n && ds.n == 5 && ds.c == 3; i++) {
        CHECK(ds.y[i] == want_y[i], "image %d: label %d", i, ds.y[i]);
        for (int k = 0; k < 3 * 64; k++) {
            int dv = abs((int)ds.pix[i * 3 * 64 + k] - (int)want[i][k / 64]);
            if (dv > worst) worst = dv;
        }
    }
    /* a solid colour survives JPEG's quantisation within a few levels */
    CHECK(worst <= 3, "pixels differ from the solid colours by up to %d", worst);
    dataset_free(&ds);
}
