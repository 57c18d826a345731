/* test_data_sets.c - dataset_load on MNIST-M (unpacked folder and tar.gz, generated here, and
 * the real archive when ../shared/data is present) and on folder: / images: trees. Images are
 * mostly solid colours, whose resize to any size is that colour, so the expected bytes are
 * known without the resizer; one gradient image checks the resize path is taken. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "data/data.h"
#include "data_testutil.h"
#include "test.h"

enum { MM_N = 5 };

static void mm_colour(int k, uint8_t rgb[3]) {
    rgb[0] = (uint8_t)(10 + 40 * k);
    rgb[1] = (uint8_t)(200 - 30 * k);
    rgb[2] = (uint8_t)(5 * k);
}

static uint8_t g_grad[32 * 32 * 3];  // interleaved RGB gradient of image 1

/* PNG bytes of synthetic MNIST-M image k: solid colours, except 1 (a gradient) and 4 (grey). */
static void mm_png(int k, tu_buf *b) {
    uint8_t px[32 * 32 * 3], rgb[3];
    mm_colour(k, rgb);
    for (int i = 0; i < 32 * 32; i++) memcpy(px + 3 * i, rgb, 3);
    if (k == 4) memset(px, rgb[0], 32 * 32);
    if (k == 1) {
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                uint8_t *p = g_grad + 3 * (y * 32 + x);
                p[0] = (uint8_t)(x * 8);
                p[1] = (uint8_t)(y * 8);
                p[2] = (uint8_t)((x * y) & 0xff);
            }
        memcpy(px, g_grad, sizeof px);
    }
    memset(b, 0, sizeof *b);
    tu_png_encode(b, 32, 32, k == 4 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, 8, 0, px, NULL,
                  0, NULL, 0);
}

/* Train labels: not in name order, CRLF, a trailing blank line, image 2 not listed. */
static const char *mm_train_labels = "00000003.png 7\r\n00000000.png 1\r\n00000004.png 0\r\n"
                                     "00000001.png 9\r\n\r\n";
static const int mm_order[4] = {3, 0, 4, 1}, mm_labels[4] = {7, 1, 0, 9};
static const char *mm_test_labels = "00000001.png 2\n00000000.png 5\n";

/* root/mnist_m/{mnist_m_train,mnist_m_test}/ + labels. */
static void mm_write_folder(const char *root) {
    char d[700], p[800];
    snprintf(d, sizeof d, "%s/mnist_m", root);
    tu_mkdir(d);
    const char *subs[2] = {"mnist_m_train", "mnist_m_test"};
    for (int s = 0; s < 2; s++) {
        snprintf(p, sizeof p, "%s/%s", d, subs[s]);
        tu_mkdir(p);
        for (int k = 0; k < (s ? 2 : MM_N); k++) {
            tu_buf b;
            mm_png(k, &b);
            snprintf(p, sizeof p, "%s/%s/%08d.png", d, subs[s], k);
            tu_write(p, b.p, b.n);
            free(b.p);
        }
    }
    tu_write(tu_path(d, "mnist_m_train_labels.txt"), mm_train_labels, strlen(mm_train_labels));
    tu_write(tu_path(d, "mnist_m_test_labels.txt"), mm_test_labels, strlen(mm_test_labels));
}

/* The same content as an archive; labels first or last, entries under `prefix`. */
static void mm_write_archive(const char *path, const char *prefix, int labels_first) {
    struct archive *a = tu_tar_begin(path);
    char name[200];
    for (int pass = 0; pass < 2; pass++) {
        if ((pass == 0) == (labels_first != 0)) {
            snprintf(name, sizeof name, "%smnist_m_test_labels.txt", prefix);
            tu_tar_add(a, name, mm_test_labels, strlen(mm_test_labels));
            snprintf(name, sizeof name, "%smnist_m_train_labels.txt", prefix);
            tu_tar_add(a, name, mm_train_labels, strlen(mm_train_labels));
            continue;
        }
        for (int s = 0; s < 2; s++) {
            snprintf(name, sizeof name, "%s%s/", prefix, s ? "mnist_m_test" : "mnist_m_train");
            tu_tar_add(a, name, NULL, 0);
            for (int k = 0; k < (s ? 2 : MM_N); k++) {
                tu_buf b;
                mm_png(k, &b);
                snprintf(name, sizeof name, "%s%s/%08d.png", prefix,
                         s ? "mnist_m_test" : "mnist_m_train", k);
                tu_tar_add(a, name, b.p, b.n);
                free(b.p);
            }
        }
    }
    tu_tar_end(a);
}

static int mm_check_train(const dataset *ds, const char *what) {
    int bad = 0;
    uint8_t rgb[3], grad[3 * 32 * 32], want_grad[3 * 28 * 28];
    for (int i = 0; i < 32 * 32; i++)
        for (int k = 0; k < 3; k++) grad[k * 1024 + i] = g_grad[3 * i + k];
    resize_bilinear_pil(want_grad, 28, 28, grad, 3, 32, 32);
    CHECK(ds->n == 4 && ds->c == 3 && ds->h == 28 && ds->w == 28 && ds->n_classes == 10,
          "%s: n=%d c=%d %dx%d", what, ds->n, ds->c, ds->h, ds->w);
    if (ds->n != 4 || ds->c != 3) return 0;
    for (int i = 0; i < 4; i++) {
        const uint8_t *img = ds->pix + (size_t)i * 3 * 784;
        int k = mm_order[i];
        CHECK(ds->y[i] == mm_labels[i], "%s: label %d is %d", what, i, ds->y[i]);
        mm_colour(k, rgb);
        for (int j = 0; j < 3 * 784; j++)
            bad += img[j] != (k == 1 ? want_grad[j] : k == 4 ? rgb[0] : rgb[j / 784]);
    }
    CHECK(bad == 0, "%s: %d bytes wrong", what, bad);
    CHECK(ds->mean[1] == 0.5f && ds->std[2] == 0.5f && strcmp(ds->name, "mnistm-train") == 0,
          "%s: normalisation / name", what);
    return 1;
}

TEST(data_mnistm_folder_and_archive) {
    const char *root = test_tmpdir();
    char spec[4][800], p[800];
    mm_write_folder(root);
    snprintf(p, sizeof p, "%s/mnist_m", root);
    mm_write_archive(tu_path(root, "last.tar.gz"), "mnist_m/", 0);
    mm_write_archive(tu_path(root, "first.tar.gz"), "", 1);
    snprintf(spec[0], sizeof spec[0], "mnistm:%s", root);  // holds mnist_m/
    snprintf(spec[1], sizeof spec[1], "mnistm:%s/mnist_m", root);
    snprintf(spec[2], sizeof spec[2], "mnistm:%s/last.tar.gz", root);
    snprintf(spec[3], sizeof spec[3], "mnistm:%s/first.tar.gz", root);
    for (int s = 0; s < 4; s++) {
        dataset ds;
        dann_error err = {0};
        dann_status st = dataset_load(&ds, spec[s], DATA_TRAIN, 28, 28, &err);
        CHECK(st == DANN_OK, "%s: %s", spec[s], err.msg);
        if (st) continue;
        mm_check_train(&ds, spec[s]);
        dataset_free(&ds);
        st = dataset_load(&ds, spec[s], DATA_TEST, 28, 28, &err);
        CHECK(st == DANN_OK, "%s test: %s", spec[s], err.msg);
        if (st) continue;
        CHECK(ds.n == 2 && ds.y[0] == 2 && ds.y[1] == 5 && ds.pix[3 * 784] == 10 &&
                  strcmp(ds.name, "mnistm-test") == 0, "%s: test split", spec[s]);
        dataset_free(&ds);
    }
}

/* Each broken layout fails with a message naming the file at fault. */
TEST(data_mnistm_errors) {
    struct {
        const char *labels;  // train labels text
        int archive, small_image, corrupt_image, no_labels, cut;
        const char *want1, *want2;
    } cases[] = {
        {"00000000.png 1\n00000009.png 2\n", 0, 0, 0, 0, 0, "00000009.png", "cannot open"},
        {"00000000.png 1\n00000009.png 2\n", 1, 0, 0, 0, 0, "00000009.png", "not in the archive"},
        {"00000000.png 10\n", 0, 0, 0, 0, 0, "mnist_m_train_labels.txt:1", "range"},
        {"00000000.png 1\n00000001.png\n", 1, 0, 0, 0, 0, "mnist_m_train_labels.txt:2", "bad line"},
        {"00000000.png x\n", 0, 0, 0, 0, 0, "mnist_m_train_labels.txt:1", "bad line"},
        {"00000000.png -1\n", 0, 0, 0, 0, 0, "mnist_m_train_labels.txt:1", "bad line"},
        {"\r\n\n", 0, 0, 0, 0, 0, "mnist_m_train_labels.txt", "no labels"},
        {"00000000.png 1\n00000000.png 2\n", 1, 0, 0, 0, 0, "00000000.png", "twice"},
        {"../x.png 1\n", 0, 0, 0, 0, 0, "mnist_m_train_labels.txt:1", "bad file name"},
        {"00000000.png 1\n00000001.png 2\n", 0, 1, 0, 0, 0, "00000001.png", "30x30"},
        {"00000000.png 1\n00000001.png 2\n", 1, 1, 0, 0, 0, "00000001.png", "30x30"},
        {"00000000.png 1\n00000001.png 2\n", 1, 0, 1, 0, 0, "00000001.png", "PNG"},
        {"00000000.png 1\n", 1, 0, 0, 1, 0, "mnist.tar.gz", "no mnist_m_train_labels.txt"},
        {"00000000.png 1\n00000001.png 2\n", 1, 0, 0, 0, 1, "mnist.tar.gz", "archive"},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const char *root = test_tmpdir();
        char p[800], spec[900];
        tu_buf img[2];
        for (int k = 0; k < 2; k++) {
            mm_png(k, &img[k]);
            if (k == 1 && cases[ci].small_image) {
                uint8_t px[30 * 30 * 3] = {0};
                img[1].n = 0;
                tu_png_encode(&img[1], 30, 30, PNG_COLOR_TYPE_RGB, 8, 0, px, NULL, 0, NULL, 0);
            }
            if (k == 1 && cases[ci].corrupt_image) img[1].n /= 2;
        }
        if (cases[ci].archive) {
            snprintf(p, sizeof p, "%s/mnist.tar.gz", root);
            struct archive *a = tu_tar_begin(p);
            tu_tar_add(a, "mnist_m/mnist_m_train/00000000.png", img[0].p, img[0].n);
            tu_tar_add(a, "mnist_m/mnist_m_train/00000001.png", img[1].p, img[1].n);
            if (!cases[ci].no_labels)
                tu_tar_add(a, "mnist_m/mnist_m_train_labels.txt", cases[ci].labels,
                           strlen(cases[ci].labels));
            tu_tar_end(a);
            tu_buf whole;
            if (cases[ci].cut && tu_read(p, &whole)) {
                tu_truncate_file(p, (long)whole.n / 2);
                free(whole.p);
            }
        } else {
            snprintf(p, sizeof p, "%s/mnist_m_train", root);
            tu_mkdir(p);
            for (int k = 0; k < 2; k++) {
                char f[900];
                snprintf(f, sizeof f, "%s/%08d.png", p, k);
                tu_write(f, img[k].p, img[k].n);
            }
            tu_write(tu_path(root, "mnist_m_train_labels.txt"), cases[ci].labels,
                     strlen(cases[ci].labels));
            snprintf(p, sizeof p, "%s", root);
        }
        free(img[0].p);
        free(img[1].p);
        snprintf(spec, sizeof spec, "mnistm:%s", p);
        dataset ds;
        dann_error err = {0};
        dann_status st = dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err);
        CHECK(st != DANN_OK && strstr(err.msg, cases[ci].want1) && strstr(err.msg, cases[ci].want2),
              "case %zu: status %d, message '%s' should hold '%s' and '%s'", ci, st, err.msg,
              cases[ci].want1, cases[ci].want2);
        if (st == DANN_OK) dataset_free(&ds);
        else CHECK(ds.pix == NULL && ds.y == NULL && ds.n == 0, "case %zu: not left empty", ci);
    }
    /* A file that is no archive at all. */
    const char *junk = tu_path(test_tmpdir(), "junk.tar.gz");
    char spec[600];
    dataset ds;
    dann_error err = {0};
    tu_write(junk, "not an archive\n", 15);
    snprintf(spec, sizeof spec, "mnistm:%s", junk);
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err) == DANN_ERR_FORMAT &&
          strstr(err.msg, "junk.tar.gz") && strstr(err.msg, "archive"), "junk: %s", err.msg);
}

TEST(data_folder_and_images) {
    const char *root = test_tmpdir();
    char d[700], spec[800];
    uint8_t red[3] = {200, 10, 0}, blue[3] = {0, 20, 250}, g1 = 77, g2 = 150;
    snprintf(d, sizeof d, "%s/labelled", root);
    tu_mkdir(d);
    tu_mkdir(tu_path(d, "cat_b"));
    tu_mkdir(tu_path(d, "cat_a"));
    tu_mkdir(tu_path(d, ".hidden"));
    tu_png_solid(tu_path(d, "cat_b/x.png"), 20, 24, 1, &g1);
    tu_png_solid(tu_path(d, "cat_b/y.PNG"), 40, 40, 3, red);
    tu_png_solid(tu_path(d, "cat_a/2.png"), 28, 28, 3, blue);
    tu_png_solid(tu_path(d, "cat_a/1.png"), 33, 17, 1, &g2);
    tu_png_solid(tu_path(d, ".hidden/z.png"), 5, 5, 1, &g2);
    tu_write(tu_path(d, "cat_a/readme.txt"), "x", 1);
    snprintf(spec, sizeof spec, "folder:%s", d);
    dataset ds;
    dann_error err = {0};
    dann_status st = dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err);
    CHECK(st == DANN_OK, "folder: %s", err.msg);
    if (!st) {
        /* sorted classes cat_a (0), cat_b (1); sorted files; mixed grey/RGB -> RGB. */
        const uint8_t want[4][3] = {{150, 150, 150}, {0, 20, 250}, {77, 77, 77}, {200, 10, 0}};
        const int want_y[4] = {0, 0, 1, 1};
        int bad = 0;
        CHECK(ds.n == 4 && ds.c == 3 && ds.n_classes == 2, "n=%d c=%d classes=%d", ds.n, ds.c,
              ds.n_classes);
        for (int i = 0; i < 4 && ds.n == 4 && ds.c == 3; i++) {
            CHECK(ds.y[i] == want_y[i], "label %d: %d", i, ds.y[i]);
            for (int j = 0; j < 3 * 784; j++) bad += ds.pix[i * 3 * 784 + j] != want[i][j / 784];
        }
        CHECK(bad == 0, "%d bytes wrong", bad);
        CHECK(ds.mean[0] == 0.5f && ds.std[0] == 0.5f, "normalisation");
        dataset_free(&ds);
    }
    /* images: all grey stays 1-channel, labels -1, both splits read DIR. */
    snprintf(d, sizeof d, "%s/unlabelled", root);
    tu_mkdir(d);
    tu_png_solid(tu_path(d, "b.png"), 10, 10, 1, &g1);
    tu_png_solid(tu_path(d, "a.png"), 50, 30, 1, &g2);
    snprintf(spec, sizeof spec, "images:%s", d);
    st = dataset_load(&ds, spec, DATA_TEST, 14, 12, &err);
    CHECK(st == DANN_OK, "images: %s", err.msg);
    if (!st) {
        CHECK(ds.n == 2 && ds.c == 1 && ds.h == 14 && ds.w == 12 && ds.n_classes == 0 &&
                  ds.y[0] == -1 && ds.y[1] == -1, "images: n=%d c=%d", ds.n, ds.c);
        CHECK(ds.n == 2 && ds.pix[0] == 150 && ds.pix[14 * 12] == 77 &&
                  ds.pix[2 * 14 * 12 - 1] == 77, "images: content / order");
        dataset_free(&ds);
    }
    /* Errors: no class folders; an empty class folder; a corrupt file named in the message. */
    snprintf(spec, sizeof spec, "folder:%s", d);
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err) == DANN_ERR_FORMAT &&
          strstr(err.msg, "no class"), "no classes: %s", err.msg);
    tu_mkdir(tu_path(d, "empty"));
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err) == DANN_ERR_FORMAT &&
          strstr(err.msg, "empty") && strstr(err.msg, "no image files"), "empty class: %s", err.msg);
    tu_write(tu_path(d, "c.png"), "\x89PNG\r\n\x1a\nnonsense", 16);
    snprintf(spec, sizeof spec, "images:%s", d);
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err) == DANN_ERR_FORMAT &&
          strstr(err.msg, "c.png"), "corrupt: %s", err.msg);
}

/* The real MNIST-M archive: the test split (first in the archive; the rest is read for its
 * member names only) has MNIST's test labels [0:9001]. */
TEST(data_real_mnistm_test_split) {
    const char *root = test_shared_data();
    if (!root) SKIP("no ../shared/data");
    char spec[512], lpath[512];
    snprintf(spec, sizeof spec, "mnistm:%s/mnist_m/mnist_m.tar.gz", root);
    snprintf(lpath, sizeof lpath, "%s/mnist/t10k-labels-idx1-ubyte.gz", root);
    dataset ds;
    dann_error err = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dann_status st = dataset_load(&ds, spec, DATA_TEST, 28, 28, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(st == DANN_OK, "%s", err.msg);
    if (st) return;
    printf("    mnistm test split: %d images in %.2f s\n", ds.n,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    int32_t *y;
    int n;
    st = idx_read_labels(lpath, &y, &n, 10, &err);
    CHECK(st == DANN_OK, "%s", err.msg);
    CHECK(ds.n == 9001 && ds.c == 3 && ds.h == 28, "n=%d c=%d", ds.n, ds.c);
    if (!st && ds.n == 9001) {
        int bad = 0;
        for (int i = 0; i < 9001; i++) bad += ds.y[i] != y[i];
        CHECK(bad == 0, "%d labels differ from MNIST test labels", bad);
    }
    if (!st) free(y);
    dataset_free(&ds);
}

/* The full training split (59001 images, the whole archive: ~3 s, more under sanitizers), run
 * when DANN_SLOW_TESTS is set: labels equal MNIST's training labels [0:59001]. */
TEST(data_real_mnistm_train_split) {
    const char *root = test_shared_data();
    if (!root) SKIP("no ../shared/data");
    if (!getenv("DANN_SLOW_TESTS")) SKIP("slow; set DANN_SLOW_TESTS=1");
    char spec[512], lpath[512];
    snprintf(spec, sizeof spec, "mnistm:%s/mnist_m", root);  // the folder holding the archive
    snprintf(lpath, sizeof lpath, "%s/mnist/train-labels-idx1-ubyte.gz", root);
    dataset ds;
    dann_error err = {0};
    dann_status st = dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err);
    CHECK(st == DANN_OK, "%s", err.msg);
    if (st) return;
    int32_t *y;
    int n;
    st = idx_read_labels(lpath, &y, &n, 10, &err);
    CHECK(st == DANN_OK, "%s", err.msg);
    CHECK(ds.n == 59001 && ds.c == 3, "n=%d c=%d", ds.n, ds.c);
    if (!st && ds.n == 59001) {
        int bad = 0;
        for (int i = 0; i < 59001; i++) bad += ds.y[i] != y[i];
        CHECK(bad == 0, "%d labels differ from MNIST training labels", bad);
    }
    if (!st) free(y);
    dataset_free(&ds);
}
