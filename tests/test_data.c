/* test_data.c - the data layer: IDX and PNG parsers (valid and malformed input), PIL-exact
 * resizing (fixture from tools/make_resize_fixture.py), the gatherer's normalisation, and
 * dataset_load's dispatch and errors. MNIST-M and image folders are in test_data_sets.c; the
 * helpers that write small IDX / PNG files are in data_testutil.h. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "data/data.h"
#include "data_testutil.h"
#include "test.h"

/* ---- IDX ---------------------------------------------------------------------------------- */

TEST(data_idx_plain_and_gzip) {
    const char *dir = test_tmpdir();
    uint8_t pix[3 * 2 * 4], lab[3] = {9, 0, 4};
    for (int i = 0; i < 24; i++) pix[i] = (uint8_t)(i * 11);
    for (int gz = 0; gz < 2; gz++) {
        char ip[512], lp[512];
        snprintf(ip, sizeof ip, "%s/img%s", dir, gz ? ".gz" : "");
        snprintf(lp, sizeof lp, "%s/lab%s", dir, gz ? ".gz" : "");
        uint32_t id[3] = {3, 2, 4}, ld[1] = {3};
        tu_write_idx(ip, gz, 0x803, id, 3, pix, sizeof pix, 0);
        tu_write_idx(lp, gz, 0x801, ld, 1, lab, sizeof lab, 0);
        uint8_t *got = NULL;
        int32_t *y = NULL;
        int n = 0, r = 0, c = 0, nl = 0;
        dann_error err = {0};
        dann_status st = idx_read_images(ip, &got, &n, &r, &c, &err);
        CHECK(st == DANN_OK, "gz=%d images: %s", gz, err.msg);
        if (st) continue;
        CHECK(n == 3 && r == 2 && c == 4, "gz=%d: dims %d %d %d", gz, n, r, c);
        CHECK(memcmp(got, pix, sizeof pix) == 0, "gz=%d: pixels differ", gz);
        st = idx_read_labels(lp, &y, &nl, 10, &err);
        CHECK(st == DANN_OK, "gz=%d labels: %s", gz, err.msg);
        if (!st) CHECK(nl == 3 && y[0] == 9 && y[1] == 0 && y[2] == 4, "gz=%d: labels", gz);
        free(got);
        free(y);
    }
}

/* One malformed file each: the reader must fail with `want` and name the file. */
TEST(data_idx_malformed) {
    const char *dir = test_tmpdir();
    uint8_t pix[2 * 3 * 3] = {0}, lab[4] = {1, 2, 3, 10};
    struct {
        const char *name;
        int gz, labels, magic, ndims;
        uint32_t dims[3];
        size_t payload, trailing;
        dann_status want;
        const char *what;
    } cases[] = {
        {"wrong-magic", 0, 0, 0x801, 3, {2, 3, 3}, 18, 0, DANN_ERR_FORMAT, "magic"},
        {"labels-magic", 0, 1, 0x803, 1, {3}, 3, 0, DANN_ERR_FORMAT, "magic"},
        {"truncated", 0, 0, 0x803, 3, {2, 3, 3}, 17, 0, DANN_ERR_FORMAT, "truncated"},
        {"truncated.gz", 1, 0, 0x803, 3, {2, 3, 3}, 10, 0, DANN_ERR_FORMAT, "truncated"},
        {"short-header", 0, 0, 0x803, 2, {2, 3}, 0, 0, DANN_ERR_FORMAT, "header"},
        {"trailing", 0, 0, 0x803, 3, {2, 3, 3}, 18, 1, DANN_ERR_FORMAT, "trailing"},
        {"trailing.gz", 1, 1, 0x801, 1, {3}, 3, 5, DANN_ERR_FORMAT, "trailing"},
        {"zero-count", 0, 0, 0x803, 3, {0, 3, 3}, 0, 0, DANN_ERR_FORMAT, "count"},
        {"zero-labels", 0, 1, 0x801, 1, {0}, 0, 0, DANN_ERR_FORMAT, "count"},
        {"zero-rows", 0, 0, 0x803, 3, {2, 0, 3}, 0, 0, DANN_ERR_FORMAT, "size"},
        {"out-of-range", 0, 1, 0x801, 1, {4}, 4, 0, DANN_ERR_FORMAT, "range"},
        {"empty", 0, 0, 0, 0, {0}, 0, 0, DANN_ERR_FORMAT, "empty"},
        {"empty-labels.gz", 1, 1, 0, 0, {0}, 0, 0, DANN_ERR_FORMAT, "empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
        tu_write_idx(path, cases[i].gz, (uint32_t)cases[i].magic, cases[i].dims, cases[i].ndims,
                     cases[i].labels ? lab : pix, cases[i].payload, cases[i].trailing);
        if (strcmp(cases[i].name, "truncated.gz") == 0) tu_truncate_file(path, 20);
        dann_error err = {0};
        uint8_t *p = NULL;
        int32_t *y = NULL;
        int n, r, c;
        dann_status st = cases[i].labels ? idx_read_labels(path, &y, &n, 10, &err)
                                         : idx_read_images(path, &p, &n, &r, &c, &err);
        CHECK(st == cases[i].want, "%s: status %d, want %d (%s)", cases[i].name, st,
              cases[i].want, err.msg);
        CHECK(strstr(err.msg, cases[i].name) && strstr(err.msg, cases[i].what),
              "%s: message '%s' should name the file and say '%s'", cases[i].name, err.msg,
              cases[i].what);
        CHECK(!p && !y, "%s: output set on failure", cases[i].name);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/no-such-file", dir);
    dann_error err = {0};
    uint8_t *p;
    int n, r, c;
    CHECK(idx_read_images(path, &p, &n, &r, &c, &err) == DANN_ERR_IO && strstr(err.msg, path),
          "missing file: %s", err.msg);
    /* The truncation message states both counts. */
    snprintf(path, sizeof path, "%s/truncated", dir);
    idx_read_images(path, &p, &n, &r, &c, &err);
    CHECK(strstr(err.msg, "expected 18 pixel bytes, got 17"), "truncated: '%s'", err.msg);
}

/* mnist:DIR picks train-* / t10k-* (plain or .gz), checks images against labels and resizes. */
TEST(data_mnist_spec) {
    const char *dir = test_tmpdir();
    uint8_t pix[3 * 784], lab[3] = {3, 1, 4};
    for (int i = 0; i < 3; i++) memset(pix + i * 784, 40 * (i + 1), 784);
    uint32_t id[3] = {3, 28, 28}, ld[1] = {3};
    tu_write_idx(tu_path(dir, "train-images-idx3-ubyte.gz"), 1, 0x803, id, 3, pix, sizeof pix, 0);
    tu_write_idx(tu_path(dir, "train-labels-idx1-ubyte"), 0, 0x801, ld, 1, lab, 3, 0);
    id[0] = ld[0] = 2;
    tu_write_idx(tu_path(dir, "t10k-images-idx3-ubyte"), 0, 0x803, id, 3, pix + 784, 2 * 784, 0);
    tu_write_idx(tu_path(dir, "t10k-labels-idx1-ubyte.gz"), 1, 0x801, ld, 1, lab + 1, 2, 0);
    char spec[600];
    snprintf(spec, sizeof spec, "mnist:%s", dir);
    dataset ds;
    dann_error err = {0};
    dann_status st = dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err);
    CHECK(st == DANN_OK, "train: %s", err.msg);
    if (!st) {
        CHECK(ds.n == 3 && ds.c == 1 && ds.h == 28 && ds.w == 28 && ds.n_classes == 10,
              "train dims n=%d c=%d %dx%d", ds.n, ds.c, ds.h, ds.w);
        CHECK(memcmp(ds.pix, pix, sizeof pix) == 0 && ds.y[2] == 4, "train content");
        CHECK(ds.mean[0] == 0.1307f && ds.std[0] == 0.3081f, "MNIST normalisation");
        CHECK(strcmp(ds.name, "mnist-train") == 0, "name '%s'", ds.name);
        dataset_free(&ds);
    }
    /* Test split, resized to 32x32: a constant image stays constant under any resize. */
    st = dataset_load(&ds, spec, DATA_TEST, 32, 32, &err);
    CHECK(st == DANN_OK, "test: %s", err.msg);
    if (!st) {
        CHECK(ds.n == 2 && ds.h == 32 && ds.w == 32 && ds.y[0] == 1 && ds.y[1] == 4, "test dims");
        int bad = 0;
        for (int i = 0; i < 2 * 32 * 32; i++) bad += ds.pix[i] != 40 * (i / 1024 + 2);
        CHECK(bad == 0, "%d resized pixels wrong", bad);
        dataset_free(&ds);
    }
    /* Four labels for three images: the error names a file. */
    ld[0] = 4;
    uint8_t lab4[4] = {1, 2, 3, 4};
    tu_write_idx(tu_path(dir, "train-labels-idx1-ubyte"), 0, 0x801, ld, 1, lab4, 4, 0);
    st = dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err);
    CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "train-labels-idx1-ubyte") &&
          strstr(err.msg, "4 labels for the 3 images"), "count mismatch: %s", err.msg);
    CHECK(ds.pix == NULL && ds.n == 0, "dataset left empty on error");
    /* Images that are not 28x28. */
    id[0] = 4;
    id[1] = id[2] = 2;
    tu_write_idx(tu_path(dir, "train-images-idx3-ubyte.gz"), 1, 0x803, id, 3, pix, 16, 0);
    st = dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err);
    CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "train-images-idx3-ubyte.gz") &&
          strstr(err.msg, "2x2"), "size: %s", err.msg);
}

TEST(data_load_spec_errors) {
    dataset ds;
    dann_error err = {0};
    CHECK(dataset_load(&ds, "cifar:/tmp", DATA_TRAIN, 28, 28, &err) == DANN_ERR_ARG &&
          strstr(err.msg, "cifar:/tmp") && strstr(err.msg, "unknown"), "prefix: %s", err.msg);
    CHECK(dataset_load(&ds, "/tmp", DATA_TRAIN, 28, 28, &err) == DANN_ERR_ARG, "no prefix");
    CHECK(dataset_load(&ds, "mnist:", DATA_TRAIN, 28, 28, &err) == DANN_ERR_ARG, "empty: %s",
          err.msg);
    CHECK(dataset_load(&ds, "mnistm:/no/such/dir", DATA_TEST, 28, 28, &err) == DANN_ERR_IO &&
          strstr(err.msg, "/no/such/dir"), "missing: %s", err.msg);
    CHECK(dataset_load(&ds, "mnist:/tmp", DATA_TRAIN, 0, 28, &err) == DANN_ERR_ARG, "size");
    const char *dir = test_tmpdir();
    char spec[600];
    snprintf(spec, sizeof spec, "mnist:%s", dir);
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err) == DANN_ERR_IO &&
          strstr(err.msg, "train-images-idx3-ubyte"), "no IDX files: %s", err.msg);
    snprintf(spec, sizeof spec, "mnistm:%s", dir);
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err) == DANN_ERR_IO &&
          strstr(err.msg, dir), "not MNIST-M: %s", err.msg);
}

/* ---- PNG ---------------------------------------------------------------------------------- */

TEST(data_png_colour_types) {
    enum { W = 5, H = 3 };
    uint8_t grey[H * W], rgb[H * W * 3], ga[H * W * 2], rgba[H * W * 4], g16[H * W * 2],
        rgb16[H * W * 6], pal[H * W], bits[H][1];
    for (int i = 0; i < H * W; i++) {
        grey[i] = (uint8_t)(17 * i);
        ga[2 * i] = grey[i];
        ga[2 * i + 1] = (uint8_t)(255 - i);
        g16[2 * i] = grey[i];
        g16[2 * i + 1] = 0xff;  // low byte: dropped
        pal[i] = (uint8_t)(i % 3);
        for (int k = 0; k < 3; k++) {
            rgb[3 * i + k] = (uint8_t)(i * 10 + k * 80);
            rgba[4 * i + k] = rgb[3 * i + k];
            rgb16[6 * i + 2 * k] = rgb[3 * i + k];
            rgb16[6 * i + 2 * k + 1] = 0x80;
        }
        rgba[4 * i + 3] = (uint8_t)i;
    }
    for (int y = 0; y < H; y++) bits[y][0] = 0xA8;  // 1-bit grey: 1 0 1 0 1
    png_color colours[3] = {{255, 0, 0}, {0, 128, 0}, {1, 2, 3}};
    uint8_t trns[3] = {0, 255, 128};
    struct {
        const char *name;
        int type, depth, interlace, want_c;
        const uint8_t *data;
    } cases[] = {
        {"grey8", PNG_COLOR_TYPE_GRAY, 8, 0, 1, grey},
        {"grey-alpha", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 1, ga},
        {"rgb", PNG_COLOR_TYPE_RGB, 8, 0, 3, rgb},
        {"rgb-interlaced", PNG_COLOR_TYPE_RGB, 8, 1, 3, rgb},
        {"rgba", PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, 3, rgba},
        {"grey16", PNG_COLOR_TYPE_GRAY, 16, 0, 1, g16},
        {"rgb16", PNG_COLOR_TYPE_RGB, 16, 0, 3, rgb16},
        {"palette-trns", PNG_COLOR_TYPE_PALETTE, 8, 0, 3, pal},
        {"grey1", PNG_COLOR_TYPE_GRAY, 1, 0, 1, &bits[0][0]},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        tu_buf png = {0};
        int pal_case = cases[ci].type == PNG_COLOR_TYPE_PALETTE;
        tu_png_encode(&png, W, H, cases[ci].type, cases[ci].depth, cases[ci].interlace,
                      cases[ci].data, pal_case ? colours : NULL, 3, pal_case ? trns : NULL, 3);
        uint8_t *pix = NULL;
        int c = 0, h = 0, w = 0;
        dann_error err = {0};
        dann_status st = png_decode(png.p, png.n, cases[ci].name, &pix, &c, &h, &w, &err);
        CHECK(st == DANN_OK, "%s: %s", cases[ci].name, err.msg);
        free(png.p);
        if (st) continue;
        CHECK(c == cases[ci].want_c && h == H && w == W, "%s: c=%d %dx%d", cases[ci].name, c, h, w);
        int bad = 0;
        for (int i = 0; i < H * W && c == cases[ci].want_c; i++)
            for (int k = 0; k < c; k++) {
                int want = strcmp(cases[ci].name, "grey1") == 0 ? (i % W) % 2 == 0 ? 255 : 0
                           : pal_case ? (k == 0 ? colours[i % 3].red : k == 1 ? colours[i % 3].green
                                                                             : colours[i % 3].blue)
                           : c == 1 ? grey[i] : rgb[3 * i + k];
                bad += pix[k * H * W + i] != want;
            }
        CHECK(bad == 0, "%s: %d samples wrong", cases[ci].name, bad);
        free(pix);
    }
}

TEST(data_png_corrupt) {
    uint8_t rgb[8 * 8 * 3];
    for (int i = 0; i < (int)sizeof rgb; i++) rgb[i] = (uint8_t)(i * 7);
    tu_buf png = {0};
    tu_png_encode(&png, 8, 8, PNG_COLOR_TYPE_RGB, 8, 0, rgb, NULL, 0, NULL, 0);
    uint8_t *pix;
    int c, h, w, failures = 0;
    dann_error err = {0};
    /* Every truncation fails cleanly (the last 12 bytes are IEND: cutting there fails too). */
    for (size_t len = 0; len < png.n; len++) {
        dann_status st = png_decode(png.p, len, "cut.png", &pix, &c, &h, &w, &err);
        if (st == DANN_OK) free(pix);
        else failures += strstr(err.msg, "cut.png") != NULL && pix == NULL;
    }
    CHECK(failures == (int)png.n, "%d of %zu truncations rejected with the name", failures, png.n);
    /* Flipped bytes anywhere: never a crash; in the header or IDAT a CRC / zlib error. */
    int rejected = 0;
    for (size_t i = 8; i < png.n; i++) {
        png.p[i] ^= 0x5a;
        dann_status st = png_decode(png.p, png.n, "flip.png", &pix, &c, &h, &w, &err);
        if (st == DANN_OK) free(pix);
        else rejected++;
        png.p[i] ^= 0x5a;
    }
    CHECK(rejected > (int)png.n / 2, "only %d of %zu flips rejected", rejected, png.n - 8);
    CHECK(png_decode((const uint8_t *)"GIF89a..", 8, "x.gif", &pix, &c, &h, &w, &err) ==
              DANN_ERR_FORMAT && strstr(err.msg, "x.gif") && strstr(err.msg, "not a PNG"),
          "signature: %s", err.msg);
    free(png.p);
}

/* ---- resize ------------------------------------------------------------------------------- */

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* PIL 9.4's Image.resize(BILINEAR) outputs, byte for byte (tools/make_resize_fixture.py). */
TEST(data_resize_matches_pil) {
    tu_buf f = {0};
    if (!tu_read("tests/fixtures/resize_cases.bin", &f)) {
        CHECK(0, "cannot read tests/fixtures/resize_cases.bin (run from the repository root)");
        return;
    }
    CHECK(f.n > 8 && memcmp(f.p, "RSZ1", 4) == 0, "fixture magic");
    uint32_t ncase = rd32(f.p + 4), n_png = 0;
    size_t pos = 8;
    for (uint32_t ci = 0; ci < ncase; ci++) {
        if (pos + 24 > f.n) { CHECK(0, "fixture truncated at case %u", ci); break; }
        uint32_t kind = rd32(f.p + pos), c = rd32(f.p + pos + 4), h = rd32(f.p + pos + 8),
                 w = rd32(f.p + pos + 12), oh = rd32(f.p + pos + 16), ow = rd32(f.p + pos + 20);
        pos += 24;
        const uint8_t *png = NULL;
        uint32_t png_len = 0;
        if (kind == 1) {
            png_len = rd32(f.p + pos);
            png = f.p + pos + 4;
            pos += 4 + png_len;
        }
        const uint8_t *inp = f.p + pos, *want = inp + (size_t)c * h * w;
        pos += (size_t)c * (h * w + oh * ow);
        if (pos > f.n) { CHECK(0, "fixture truncated at case %u", ci); break; }
        if (png) {  // the PNG decodes to PIL's pixels
            uint8_t *dec;
            int dc, dh, dw;
            dann_error err = {0};
            dann_status st = png_decode(png, png_len, "fixture.png", &dec, &dc, &dh, &dw, &err);
            CHECK(st == DANN_OK, "case %u: %s", ci, err.msg);
            if (st) continue;
            CHECK(dc == (int)c && dh == (int)h && dw == (int)w && !memcmp(dec, inp, c * h * w),
                  "case %u: decoded PNG differs from PIL's", ci);
            free(dec);
            n_png++;
        }
        uint8_t *out = malloc((size_t)c * oh * ow);
        resize_bilinear_pil(out, (int)oh, (int)ow, inp, (int)c, (int)h, (int)w);
        int ndiff = 0, worst = 0;
        for (size_t i = 0; i < (size_t)c * oh * ow; i++) {
            int d = abs(out[i] - want[i]);
            ndiff += d != 0;
            if (d > worst) worst = d;
        }
        CHECK(ndiff == 0, "case %u (c=%u %ux%u -> %ux%u): %d bytes differ from PIL, worst by %d",
              ci, c, h, w, oh, ow, ndiff, worst);
        free(out);
    }
    CHECK(pos == f.n, "fixture has %zu unread bytes", f.n - pos);
    if (n_png == 0) printf("    note: fixture holds no real MNIST-M PNG\n");
    free(f.p);
}

/* ---- gather ------------------------------------------------------------------------------- */

TEST(data_gather_normalises) {
    uint8_t pix[2 * 4] = {0, 255, 128, 1, 10, 20, 30, 40};
    int32_t y[2] = {7, 3}, idx[3] = {1, 0, 1}, yo[3];
    dataset ds = {.n = 2, .c = 1, .h = 2, .w = 2, .pix = pix, .y = y, .n_classes = 10,
                  .mean = {0.1307f, 0.1307f, 0.1307f}, .std = {0.3081f, 0.3081f, 0.3081f}};
    /* (p / 255 - 0.1307) / 0.3081 worked out by hand (double precision). */
    const double v0 = -0.42421292, v255 = 2.82148653, v128 = 1.20500092, v1 = -0.41148468;
    float want1[4] = {(float)v0, (float)v255, (float)v128, (float)v1}, x[3 * 3 * 4];
    dataset_gather(x, yo, &ds, idx + 1, 1, 1);
    CHECK_CLOSE("grey", x, want1, 4, 1e-6, 0);
    CHECK(yo[0] == 7, "label");
    /* torchvision computes in float32: the exact bits of ((float)p / 255 - mean) / std. */
    float exact = ((float)128 / 255.0f - 0.1307f) / 0.3081f;
    CHECK(memcmp(&x[2], &exact, sizeof exact) == 0, "float32 bits: %.9g vs %.9g", x[2], exact);
    dataset_gather(x, yo, &ds, idx, 3, 3);  // grey repeated over 3 channels
    for (int k = 0; k < 3; k++) CHECK_CLOSE("grey->rgb", x + 12 + 4 * k, want1, 4, 1e-6, 0);
    float want_10 = (float)((10 / 255.0 - 0.1307) / 0.3081);
    CHECK(fabsf(x[0] - want_10) < 1e-6f && fabsf(x[8] - want_10) < 1e-6f, "image 1, channels 0/2");
    CHECK(yo[0] == 3 && yo[1] == 7 && yo[2] == 3, "labels %d %d %d", yo[0], yo[1], yo[2]);
    /* RGB with per-channel statistics. */
    uint8_t rgb[3] = {0, 255, 51};
    dataset d3 = {.n = 1, .c = 3, .h = 1, .w = 1, .pix = rgb, .y = y, .n_classes = 10,
                  .mean = {0.5f, 0.25f, 0.2f}, .std = {0.5f, 0.25f, 0.1f}};
    float want3[3] = {-1.0f, 3.0f, 0.0f};
    dataset_gather(x, NULL, &d3, idx + 1, 1, 3);
    CHECK_CLOSE("rgb", x, want3, 3, 1e-6, 0);
}

/* ---- real data ---------------------------------------------------------------------------- */

TEST(data_real_mnist) {
    const char *root = test_shared_data();
    if (!root) SKIP("no ../shared/data");
    char spec[512];
    snprintf(spec, sizeof spec, "mnist:%s/mnist", root);
    dataset ds;
    dann_error err = {0};
    dann_status st = dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err);
    CHECK(st == DANN_OK, "%s", err.msg);
    if (st) return;
    static const int hist_want[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    static const int first_want[10] = {5, 0, 4, 1, 9, 2, 1, 3, 1, 4};
    int hist[10] = {0};
    for (int i = 0; i < ds.n; i++) hist[ds.y[i]]++;
    CHECK(ds.n == 60000 && ds.c == 1, "n=%d c=%d", ds.n, ds.c);
    for (int k = 0; k < 10; k++) {
        CHECK(hist[k] == hist_want[k], "class %d: %d images, want %d", k, hist[k], hist_want[k]);
        CHECK(ds.y[k] == first_want[k], "label %d: %d, want %d", k, ds.y[k], first_want[k]);
    }
    dataset_free(&ds);
}
