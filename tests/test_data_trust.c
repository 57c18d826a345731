/* test_data_trust.c - what the data readers refuse, and that they judge an input as a whole:
 *   - MNIST-M archives: a duplicate member (the same path twice, a label file under two
 *     prefixes, an image under two prefixes) is refused naming both, and every verdict is the
 *     same for every order of the members (all permutations of small crafted archives, written
 *     here with libarchive); an unlisted undecodable or odd-sized image is ignored wherever it is;
 *   - gzip IDX (and CSV) files: junk after the gzip stream and a stream whose end is missing are
 *     refused, concatenated members are one stream (as gzip -d reads them);
 *   - resource limits: a gzip IDX whose header claims more than DANN_MAX_GZIP_BYTES (default
 *     1 GiB) and a PNG or JPEG of more than DANN_MAX_IMAGE_PIXELS (default 2^25) are refused before
 *     anything is allocated for them, with a message naming the variable; the variables raise
 *     the limits, and a malformed value is an error naming it. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "data/data.h"
#include "data_testutil.h"
#include "test.h"

/* ---- MNIST-M archives in every member order ------------------------------------------------ */

typedef struct {
    const char *name;
    const void *data;
    size_t len;
} member;

static int next_perm(int *p, int n) {  // lexicographic successor; 0 after the last
    int i = n - 2;
    while (i >= 0 && p[i] >= p[i + 1]) i--;
    if (i < 0) return 0;
    int j = n - 1;
    while (p[j] <= p[i]) j--;
    int t = p[i];
    p[i] = p[j], p[j] = t;
    for (int a = i + 1, b = n - 1; a < b; a++, b--) t = p[a], p[a] = p[b], p[b] = t;
    return 1;
}

/* Writes the members in order `perm` to path (tar.gz). */
static void write_archive(const char *path, const member *m, const int *perm, int n) {
    struct archive *a = tu_tar_begin(path);
    for (int i = 0; i < n; i++) tu_tar_add(a, m[perm[i]].name, m[perm[i]].data, m[perm[i]].len);
    tu_tar_end(a);
}

static tu_buf solid_png(int w, int h, uint8_t v) {
    tu_buf b = {0};
    uint8_t *px = malloc((size_t)w * h * 3);
    memset(px, v, (size_t)w * h * 3);
    tu_png_encode(&b, w, h, PNG_COLOR_TYPE_RGB, 8, 0, px, NULL, 0, NULL, 0);
    free(px);
    return b;
}

/* Loads the train split of every permutation of m; each must succeed with labels 1, 2 and the
 * colours 40, 80 (want1 == NULL) or fail naming want1 and want2. Returns the number of orders
 * that gave another verdict. */
static int every_order(const char *what, const member *m, int n, const char *want1,
                       const char *want2) {
    char path[700], spec[800];
    int perm[8], bad = 0, orders = 0;
    snprintf(path, sizeof path, "%s/a.tar.gz", test_tmpdir());
    snprintf(spec, sizeof spec, "mnistm:%s", path);
    for (int i = 0; i < n; i++) perm[i] = i;
    do {
        write_archive(path, m, perm, n);
        dataset ds;
        dann_error err = {0};
        dann_status st = dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err);
        int ok = want1 ? st != DANN_OK && strstr(err.msg, want1) && strstr(err.msg, want2)
                       : st == DANN_OK && ds.n == 2 && ds.y[0] == 1 && ds.y[1] == 2 &&
                             ds.pix[0] == 40 && ds.pix[3 * 784] == 80;
        if (!ok && bad++ == 0) {
            char order[200] = "";
            for (int i = 0; i < n; i++)
                snprintf(order + strlen(order), sizeof order - strlen(order), "%s%s", i ? ", " : "",
                         m[perm[i]].name);
            CHECK(0, "%s: members in the order [%s]: status %d '%s'; expected %s%s%s%s", what,
                  order, st, err.msg, want1 ? "an error naming " : "2 images labelled 1, 2",
                  want1 ? want1 : "", want1 ? " and " : "", want1 ? want2 : "");
        }
        if (st == DANN_OK) dataset_free(&ds);
        orders++;
    } while (next_perm(perm, n));
    if (bad) printf("    %s: %d of %d orders wrong\n", what, bad, orders);
    return bad;
}

TEST(data_mnistm_archive_duplicates_in_any_order) {
    tu_buf a = solid_png(32, 32, 40), b = solid_png(32, 32, 80), b2 = solid_png(32, 32, 200),
           odd = solid_png(30, 30, 7);
    const char *labels = "a.png 1\nb.png 2\n", *other = "b.png 5\na.png 6\n";
    const member L = {"mnist_m/mnist_m_train_labels.txt", labels, strlen(labels)},
                 A = {"mnist_m/mnist_m_train/a.png", a.p, a.n},
                 B = {"mnist_m/mnist_m_train/b.png", b.p, b.n};
    /* Valid: an unlisted image of another size, an unlisted corrupt one, the other split's
     * files: accepted in every order (an odd unlisted image before the labels was fatal). */
    const member ok1[] = {L, A, B, {"mnist_m/mnist_m_train/odd.png", odd.p, odd.n},
                          {"mnist_m/mnist_m_train/junk.png", "\x89PNG\r\n\x1a\nxx", 10}};
    every_order("unlisted odd images", ok1, 5, NULL, NULL);
    const member ok2[] = {L, A, B, {"mnist_m/mnist_m_test_labels.txt", other, strlen(other)},
                          {"mnist_m/mnist_m_test/b.png", b2.p, b2.n}};
    every_order("the other split beside it", ok2, 5, NULL, NULL);

    /* Refused, naming both members, in every order. */
    const member dup_labels[] = {L, A, B, {"copy/mnist_m_train_labels.txt", other, strlen(other)}};
    every_order("two train label files", dup_labels, 4, "mnist_m/mnist_m_train_labels.txt",
                "copy/mnist_m_train_labels.txt");
    const member dup_image[] = {L, A, B, {"copy/mnist_m_train/b.png", b2.p, b2.n}};
    every_order("an image under two prefixes", dup_image, 4, "mnist_m/mnist_m_train/b.png",
                "copy/mnist_m_train/b.png");
    const member same_name[] = {L, A, B, {"mnist_m/mnist_m_train/a.png", b2.p, b2.n}};
    every_order("the same member twice", same_name, 4, "mnist_m/mnist_m_train/a.png", "twice");
    const member dup_test[] = {L, A, B, {"mnist_m/mnist_m_test_labels.txt", other, strlen(other)},
                               {"x/mnist_m_test_labels.txt", other, strlen(other)}};
    every_order("two test label files", dup_test, 5, "mnist_m/mnist_m_test_labels.txt",
                "x/mnist_m_test_labels.txt");
    const member dup_unlisted[] = {L, A, B, {"mnist_m/mnist_m_train/odd.png", odd.p, odd.n},
                                   {"y/mnist_m_train/odd.png", odd.p, odd.n}};
    every_order("an unlisted image under two prefixes", dup_unlisted, 5,
                "mnist_m/mnist_m_train/odd.png", "y/mnist_m_train/odd.png");

    /* A listed image that fails still fails in every order, naming it. */
    const member listed_odd[] = {L, A, {"mnist_m/mnist_m_train/b.png", odd.p, odd.n}};
    every_order("a listed image of another size", listed_odd, 3, "b.png", "30x30");
    const member listed_junk[] = {L, A, {"mnist_m/mnist_m_train/b.png", "\x89PNG\r\n\x1a\nxx", 10}};
    every_order("a listed corrupt image", listed_junk, 3, "b.png", "PNG");
    free(a.p), free(b.p), free(b2.p), free(odd.p);
}

/* ---- gzip IDX streams ---------------------------------------------------------------------- */

/* The gzip stream of n bytes (one member). */
static tu_buf gz_bytes(const void *p, size_t n) {
    tu_buf b = {0};
    z_stream z = {0};
    b.cap = compressBound((uLong)n) + 64;
    b.p = malloc(b.cap);
    deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = b.p;
    z.avail_out = (uInt)b.cap;
    deflate(&z, Z_FINISH);
    b.n = b.cap - z.avail_out;
    deflateEnd(&z);
    return b;
}

static const uint8_t IDX_LABELS[11] = {0, 0, 8, 1, 0, 0, 0, 3, 4, 5, 6};

static dann_status read_labels_bytes(const char *name, const void *p, size_t n, int32_t *first,
                                     dann_error *err) {
    const char *path = tu_path(test_tmpdir(), name);
    tu_write(path, p, n);
    int32_t *y = NULL;
    int cnt;
    dann_status st = idx_read_labels(path, &y, &cnt, 10, err);
    if (!st) *first = cnt == 3 ? y[0] : -1;
    free(y);
    return st;
}

TEST(data_idx_gzip_stream_ends) {
    tu_buf g = gz_bytes(IDX_LABELS, sizeof IDX_LABELS), g1 = gz_bytes(IDX_LABELS, 5),
           g2 = gz_bytes(IDX_LABELS + 5, 6);
    uint8_t buf[512];
    dann_error err = {0};
    int32_t y0 = -2;
    dann_status st = read_labels_bytes("plain.gz", g.p, g.n, &y0, &err);
    CHECK(st == DANN_OK && y0 == 4, "a plain gzip stream: %s", err.msg);
    /* Two members, split inside the header: one stream, as gzip -d reads it. */
    memcpy(buf, g1.p, g1.n);
    memcpy(buf + g1.n, g2.p, g2.n);
    st = read_labels_bytes("members.gz", buf, g1.n + g2.n, &y0, &err);
    CHECK(st == DANN_OK && y0 == 4, "two gzip members: %s", err.msg);
    /* Junk after the stream: text, a lone 0x1f, zeros. */
    const char *junk[3] = {"junk after it", "\x1f", "\0\0\0\0"};
    const size_t junk_n[3] = {13, 1, 4};
    for (int k = 0; k < 3; k++) {
        memcpy(buf, g.p, g.n);
        memcpy(buf + g.n, junk[k], junk_n[k]);
        st = read_labels_bytes("junk.gz", buf, g.n + junk_n[k], &y0, &err);
        CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "junk.gz") && strstr(err.msg, "junk after"),
              "junk %d after the gzip stream: status %d '%s'", k, st, err.msg);
    }
    /* The stream's end (its CRC and length trailer) cut off, the payload complete. */
    st = read_labels_bytes("cut.gz", g.p, g.n - 4, &y0, &err);
    CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "cut.gz") && strstr(err.msg, "truncated gzip"),
          "a gzip stream without its end: status %d '%s'", st, err.msg);
    /* A corrupted trailer CRC. */
    memcpy(buf, g.p, g.n);
    buf[g.n - 6] ^= 0x55;
    st = read_labels_bytes("crc.gz", buf, g.n, &y0, &err);
    CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "crc.gz") && strstr(err.msg, "gzip"),
          "a bad gzip CRC: status %d '%s'", st, err.msg);
    free(g.p), free(g1.p), free(g2.p);
}

/* Sets (or with NULL unsets) an environment variable for the duration of one check. */
static char g_saved[2][64];
static void env_push(const char *name, const char *value) {
    const char *old = getenv(name);
    snprintf(g_saved[0], sizeof g_saved[0], "%s", name);
    snprintf(g_saved[1], sizeof g_saved[1], "%s", old ? old : "");
    if (value) setenv(name, value, 1);
    else unsetenv(name);
}
static void env_pop(void) {
    if (g_saved[1][0]) setenv(g_saved[0], g_saved[1], 1);
    else unsetenv(g_saved[0]);
}

/* CSV and svmlight files read through the same gzip reader: junk after the stream is refused, and
 * DANN_MAX_GZIP_BYTES bounds what a gzip file may decompress to. */
TEST(data_vec_gzip_stream_ends_and_limit) {
    const char *csv = "a,b,y\n1,2,0\n3,4,1\n";
    tu_buf g = gz_bytes(csv, strlen(csv));
    uint8_t buf[256];
    char spec[700];
    dataset ds;
    dann_error err = {0};
    const char *path = tu_path(test_tmpdir(), "v.csv.gz");
    tu_write(path, g.p, g.n);
    snprintf(spec, sizeof spec, "csv:%s,label=y", path);
    dann_status st = dataset_load(&ds, spec, DATA_TRAIN, 1, 1, &err);
    CHECK(st == DANN_OK && ds.n == 2, "a gzip CSV: status %d '%s'", st, err.msg);
    if (!st) dataset_free(&ds);
    memcpy(buf, g.p, g.n);
    memcpy(buf + g.n, "9,9,1\n", 6);
    path = tu_path(test_tmpdir(), "junk.csv.gz");
    tu_write(path, buf, g.n + 6);
    snprintf(spec, sizeof spec, "csv:%s,label=y", path);
    st = dataset_load(&ds, spec, DATA_TRAIN, 1, 1, &err);
    CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "junk.csv.gz") && strstr(err.msg, "junk after"),
          "junk after a gzip CSV: status %d '%s'", st, err.msg);
    if (!st) dataset_free(&ds);
    path = tu_path(test_tmpdir(), "v.csv.gz");
    tu_write(path, g.p, g.n);
    snprintf(spec, sizeof spec, "csv:%s,label=y", path);
    env_push("DANN_MAX_GZIP_BYTES", "10");
    st = dataset_load(&ds, spec, DATA_TRAIN, 1, 1, &err);
    env_pop();
    CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "v.csv.gz") &&
              strstr(err.msg, "DANN_MAX_GZIP_BYTES"), "a 19-byte CSV under a 10-byte limit: "
          "status %d '%s'", st, err.msg);
    if (!st) dataset_free(&ds);
    free(g.p);
}

/* ---- limits ------------------------------------------------------------------------------- */

TEST(data_idx_gzip_size_limit) {
    /* 2048 images of 28x28 zeros: 1.6 MB decompressed, a few KB compressed. */
    const size_t n = 2048, bytes = n * 784;
    uint8_t *raw = calloc(16 + bytes, 1);
    raw[2] = 8, raw[3] = 3, raw[6] = (uint8_t)(n >> 8), raw[7] = (uint8_t)n, raw[11] = 28,
    raw[15] = 28;
    tu_buf g = gz_bytes(raw, 16 + bytes);
    const char *path = tu_path(test_tmpdir(), "big.gz");
    tu_write(path, g.p, g.n);
    uint8_t *pix = NULL;
    int cnt, r, c;
    dann_error err = {0};
    env_push("DANN_MAX_GZIP_BYTES", "1M");
    dann_status st = idx_read_images(path, &pix, &cnt, &r, &c, &err);
    env_pop();
    CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "big.gz") && strstr(err.msg, "1605632") &&
              strstr(err.msg, "DANN_MAX_GZIP_BYTES") && !pix,
          "1.6 MB under a 1M limit: status %d '%s'", st, err.msg);
    env_push("DANN_MAX_GZIP_BYTES", "2M");
    st = idx_read_images(path, &pix, &cnt, &r, &c, &err);
    env_pop();
    CHECK(st == DANN_OK && cnt == 2048, "1.6 MB under a 2M limit: %s", err.msg);
    free(pix);
    pix = NULL;
    env_push("DANN_MAX_GZIP_BYTES", "lots");
    st = idx_read_images(path, &pix, &cnt, &r, &c, &err);
    env_pop();
    CHECK(st == DANN_ERR_ARG && strstr(err.msg, "DANN_MAX_GZIP_BYTES") && strstr(err.msg, "lots"),
          "a malformed limit: status %d '%s'", st, err.msg);
    /* The default: a header claiming 3.8 million images of 28x28 (3 GB) is refused at once. */
    raw[5] = 0x3a, raw[6] = 0x00, raw[7] = 0x00;  // 0x003a0000 = 3801088 images
    tu_buf h = gz_bytes(raw, 16 + 1000);
    path = tu_path(test_tmpdir(), "claims3g.gz");
    tu_write(path, h.p, h.n);
    env_push("DANN_MAX_GZIP_BYTES", NULL);
    st = idx_read_images(path, &pix, &cnt, &r, &c, &err);
    env_pop();
    CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "claims3g.gz") &&
              strstr(err.msg, "2980052992") && strstr(err.msg, "1073741824"),
          "a header claiming 3 GB: status %d '%s'", st, err.msg);
    free(raw), free(g.p), free(h.p);
}

/* A PNG of a w x h RGB image that ends right after the start of its image data (IHDR, then an
 * IDAT chunk holding the first 2 bytes of a zlib stream): enough to read its header. */
static tu_buf png_header_only(uint32_t w, uint32_t h) {
    tu_buf b = {0};
    b.p = malloc(64);
    static const uint8_t idat[14] = {0, 0, 0, 2, 'I', 'D', 'A', 'T', 0x78, 0x9c};
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t chunk[4 + 4 + 13 + 4] = {0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (int i = 0; i < 4; i++) {
        chunk[8 + i] = (uint8_t)(w >> (24 - 8 * i));
        chunk[12 + i] = (uint8_t)(h >> (24 - 8 * i));
    }
    chunk[16] = 8, chunk[17] = 2;  // 8 bits, RGB
    uLong crc = crc32(0, chunk + 4, 17);
    for (int i = 0; i < 4; i++) chunk[21 + i] = (uint8_t)(crc >> (24 - 8 * i));
    memcpy(b.p, sig, 8);
    memcpy(b.p + 8, chunk, sizeof chunk);
    memcpy(b.p + 8 + sizeof chunk, idat, sizeof idat);
    crc = crc32(0, idat + 4, 6);
    for (int i = 0; i < 4; i++) b.p[8 + sizeof chunk + 10 + i] = (uint8_t)(crc >> (24 - 8 * i));
    b.n = 8 + sizeof chunk + sizeof idat;
    return b;
}

TEST(data_png_pixel_limit) {
    uint8_t *pix = NULL;
    int c, h, w;
    dann_error err = {0};
    /* The default: 16384x16384 (what cost 1.5 GiB) and 6000x6000 are refused on the header. */
    env_push("DANN_MAX_IMAGE_PIXELS", NULL);
    const uint32_t sides[2][2] = {{16384, 16384}, {6000, 6000}};
    for (int k = 0; k < 2; k++) {
        tu_buf b = png_header_only(sides[k][0], sides[k][1]);
        dann_status st = png_decode(b.p, b.n, "huge.png", &pix, &c, &h, &w, &err);
        char dims[32];
        snprintf(dims, sizeof dims, "%ux%u", sides[k][0], sides[k][1]);
        CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "huge.png") && strstr(err.msg, dims) &&
                  strstr(err.msg, "33554432") && strstr(err.msg, "DANN_MAX_IMAGE_PIXELS") && !pix,
              "%s: status %d '%s'", dims, st, err.msg);
        free(b.p);
    }
    env_pop();
    /* A real 300x200 image under a limit just below and just at its size. */
    tu_buf b = solid_png(300, 200, 9);
    env_push("DANN_MAX_IMAGE_PIXELS", "59999");
    dann_status st = png_decode(b.p, b.n, "p.png", &pix, &c, &h, &w, &err);
    env_pop();
    CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "300x200") && strstr(err.msg, "59999"),
          "300x200 under 59999: status %d '%s'", st, err.msg);
    env_push("DANN_MAX_IMAGE_PIXELS", "60000");
    st = png_decode(b.p, b.n, "p.png", &pix, &c, &h, &w, &err);
    env_pop();
    CHECK(st == DANN_OK && h == 200 && w == 300 && pix && pix[0] == 9, "300x200 under 60000: %s",
          err.msg);
    free(pix);
    free(b.p);
    /* JPEGs share the limit (image_decode, as the folders read them). */
    uint8_t *px = calloc(300 * 200 * 3, 1);
    const char *jpg = tu_path(test_tmpdir(), "p.jpg");
    tu_jpeg_write(jpg, 300, 200, 3, px, 90);
    tu_buf j = {0};
    tu_read(jpg, &j);
    for (int k = 0; k < 2; k++) {
        pix = NULL;
        env_push("DANN_MAX_IMAGE_PIXELS", k ? "60000" : "59999");
        st = image_decode(j.p, j.n, "p.jpg", &pix, &c, &h, &w, &err);
        env_pop();
        if (k == 0)
            CHECK(st == DANN_ERR_FORMAT && strstr(err.msg, "p.jpg") && strstr(err.msg, "300x200") &&
                      strstr(err.msg, "DANN_MAX_IMAGE_PIXELS") && !pix,
                  "JPEG 300x200 under 59999: status %d '%s'", st, err.msg);
        else CHECK(st == DANN_OK && h == 200 && w == 300, "JPEG 300x200 under 60000: %s", err.msg);
        free(pix);
    }
    free(j.p);
    free(px);
}
