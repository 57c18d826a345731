/* test_vec.c - the feature-vector readers (csv:, svmlight:; src/data/vec.h): every fixture file
 * read exactly as scikit-learn's load_svmlight_file and numpy's loadtxt read it
 * (tests/fixtures/vec, tools/make_vec_fixtures.py), hand-worked cases, spec options, every
 * class of bad input (a one-line message naming FILE:LINE and the problem, the dataset left
 * empty), the dimension rule and the batches (sparse rows equal to dense ones). Training on
 * vectors is in test_vec_train.c. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "data/vec.h"
#include "data_testutil.h"
#include "test.h"

#define FIX "tests/fixtures/vec/"

/* The reference of a fixture: n, D, classes, labels, dense rows. */
typedef struct {
    int n, D, nc;
    int32_t *y;
    float *x;
} vref;

static int read_ref(const char *path, vref *r) {
    tu_buf b = {0};
    memset(r, 0, sizeof *r);
    if (!tu_read(path, &b) || b.n < 16 || memcmp(b.p, "VREF", 4)) {
        free(b.p);
        return 0;
    }
    memcpy(&r->n, b.p + 4, 4), memcpy(&r->D, b.p + 8, 4), memcpy(&r->nc, b.p + 12, 4);
    const size_t want = 16 + 4 * (size_t)r->n + 4 * (size_t)r->n * r->D;
    if (b.n != want) {
        free(b.p);
        return 0;
    }
    r->y = malloc(4 * (size_t)r->n);
    r->x = malloc(4 * (size_t)r->n * r->D + 4);
    memcpy(r->y, b.p + 16, 4 * (size_t)r->n);
    memcpy(r->x, b.p + 16 + 4 * (size_t)r->n, 4 * (size_t)r->n * r->D);
    free(b.p);
    return 1;
}

/* All examples of a loaded vector dataset as dense rows (n, ds->c). */
static float *dense_rows(const dataset *ds) {
    int32_t *idx = malloc(sizeof *idx * (size_t)ds->n);
    float *x = malloc(sizeof *x * (size_t)ds->n * ds->c + 4);
    for (int i = 0; i < ds->n; i++) idx[i] = i;
    dataset_gather(x, NULL, ds, idx, ds->n, ds->c);
    free(idx);
    return x;
}

TEST(vec_readers_match_sklearn_and_numpy) {
    static const struct { const char *spec, *ref; int sparse; } cases[] = {
        {"svmlight:" FIX "pm1.svm", FIX "pm1.svm.ref", 1},
        {"svmlight:" FIX "pm1.svm.gz", FIX "pm1.svm.gz.ref", 1},
        {"svmlight:" FIX "multi0.svm,base=0", FIX "multi0.svm.ref", 1},
        {"libsvm:" FIX "labels.svm", FIX "labels.svm.ref", 1},
        {"svmlight:" FIX "unlab.svm", FIX "unlab.svm.ref", 1},
        {"csv:" FIX "header.csv", FIX "header.csv.ref", 0},
        {"csv:" FIX "last.csv,label=last", FIX "last.csv.ref", 0},
        {"csv:" FIX "named.csv,label=target", FIX "named.csv.ref", 0},
        {"csv:" FIX "nolabel.csv,label=none", FIX "nolabel.csv.ref", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        vref r;
        if (!read_ref(cases[k].ref, &r)) {
            CHECK(0, "%s: cannot read (run from the repository root; make it with "
                  "tools/make_vec_fixtures.py)", cases[k].ref);
            continue;
        }
        dataset ds;
        dann_error err = {0};
        dann_status st = dataset_load(&ds, cases[k].spec, DATA_TRAIN, 28, 28, &err);
        CHECK(st == DANN_OK, "%s: %s", cases[k].spec, err.msg);
        if (!st) {
            CHECK(ds.n == r.n && ds.c == r.D && ds.h == 1 && ds.w == 1 && ds.n_classes == r.nc &&
                      ds.vec && ds.vec->sparse == cases[k].sparse && !ds.pix,
                  "%s: n %d D %d classes %d sparse %d, want n %d D %d classes %d", cases[k].spec,
                  ds.n, ds.c, ds.n_classes, ds.vec ? ds.vec->sparse : -1, r.n, r.D, r.nc);
            if (ds.n == r.n && ds.c == r.D) {
                int bad_y = 0, first = -1;
                for (int i = 0; i < r.n; i++)
                    if (ds.y[i] != r.y[i] && bad_y++ == 0) first = i;
                CHECK(!bad_y, "%s: %d labels differ from the reference, first example %d: %d, "
                      "want %d", cases[k].spec, bad_y, first, ds.y[first], r.y[first]);
                float *x = dense_rows(&ds);
                size_t bad = 0, at = 0;
                for (size_t i = 0; i < (size_t)r.n * r.D; i++)
                    if (memcmp(&x[i], &r.x[i], 4) && bad++ == 0) at = i;
                CHECK(!bad, "%s: %zu values differ from the reference (bitwise), first at "
                      "example %zu feature %zu: %.9g, want %.9g", cases[k].spec, bad,
                      at / (size_t)r.D, at % (size_t)r.D, x[at], r.x[at]);
                free(x);
            }
            if (ds.vec && ds.vec->sparse) {
                int sorted = 1;
                for (int i = 0; i < ds.n; i++)
                    for (int64_t j = ds.vec->rowptr[i] + 1; j < ds.vec->rowptr[i + 1]; j++)
                        sorted &= ds.vec->col[j] > ds.vec->col[j - 1];
                CHECK(sorted, "%s: CSR columns not increasing", cases[k].spec);
            }
        }
        dataset_free(&ds);
        free(r.y), free(r.x);
    }
}

/* ---- hand-worked cases ---------------------------------------------------------------- */

static dann_status parse(int format, const char *text, const vec_opts *o, vec_data *v,
                         int32_t **y, int *n, int *nc, dann_error *err) {
    return format == VEC_CSV ? csv_parse(v, y, n, nc, "mem", text, strlen(text), o, err)
                             : svmlight_parse(v, y, n, nc, "mem", text, strlen(text), o, err);
}

TEST(vec_hand_worked_cases) {
    vec_opts o;
    vec_data v;
    int32_t *y;
    int n, nc;
    dann_error err = {0};
    /* libsvm 1-based: "3:0.5" is the third feature, column 2. */
    vec_opts_default(&o);
    const char *svm = "+1 3:0.5 7:-2\n-1 1:1e2\n";
    CHECK(parse(VEC_SVMLIGHT, svm, &o, &v, &y, &n, &nc, &err) == DANN_OK, "%s", err.msg);
    CHECK(n == 2 && nc == 2 && v.dim == 7 && v.pm1 && v.rowptr[1] == 2 && v.rowptr[2] == 3 &&
              v.col[0] == 2 && v.col[1] == 6 && v.col[2] == 0 && v.val[0] == 0.5f &&
              v.val[1] == -2.0f && v.val[2] == 100.0f && y[0] == 1 && y[1] == 0 &&
              v.line[0] == 1 && v.line[1] == 2 && v.max_row_nnz == 2,
          "1-based: n %d classes %d dim %d cols %d %d %d labels %d %d", n, nc, v.dim, v.col[0],
          v.col[1], v.col[2], y[0], y[1]);
    vec_data_free(&v), free(y);
    /* The same text 0-based: one more feature, columns as written. */
    o.base = 0;
    CHECK(parse(VEC_SVMLIGHT, svm, &o, &v, &y, &n, &nc, &err) == DANN_OK, "%s", err.msg);
    CHECK(v.dim == 8 && v.col[0] == 3 && v.col[1] == 7 && v.col[2] == 1, "0-based: dim %d cols "
          "%d %d %d", v.dim, v.col[0], v.col[1], v.col[2]);
    vec_data_free(&v), free(y);
    /* Classes 0..C-1 are themselves; C is the highest + 1 even when a class is absent. */
    vec_opts_default(&o);
    CHECK(parse(VEC_SVMLIGHT, "0 1:1\n4 2:1\n2 1:3\n", &o, &v, &y, &n, &nc, &err) == DANN_OK, "%s", err.msg);
    CHECK(nc == 5 && !v.pm1 && y[0] == 0 && y[1] == 4 && y[2] == 2, "classes: %d (%d %d %d)", nc,
          y[0], y[1], y[2]);
    vec_data_free(&v), free(y);
    /* label=none: labels skipped unread (even ones that are not numbers). */
    o.label = VEC_LABEL_NONE;
    CHECK(parse(VEC_SVMLIGHT, "x 1:1\n3.5 2:1\n", &o, &v, &y, &n, &nc, &err) == DANN_OK, "%s", err.msg);
    CHECK(nc == 0 && !v.labelled && y[0] == -1 && y[1] == -1 && v.dim == 2, "label=none");
    vec_data_free(&v), free(y);
    /* Numbers: Python float()'s decimals, underflow to 0, FLT_MAX's neighbourhood. */
    vec_opts_default(&o);
    /* 7: just above the float32 midpoint 1 + 2^-24 but with that midpoint as its double, so
     * numpy's float64-then-float32 reading gives 1 (a direct decimal-to-float rounding would
     * give 1 + 2^-23). */
    CHECK(parse(VEC_SVMLIGHT, "1 1:.5 2:5. 3:+.5e+1 4:1e-50 5:3.4028235e38 6:-0 "
                "7:1.00000005960464477539062501\n", &o, &v, &y, &n, &nc, &err) == DANN_OK,
          "%s", err.msg);
    CHECK(v.val[0] == 0.5f && v.val[1] == 5.0f && v.val[2] == 5.0f && v.val[3] == 0.0f &&
              v.val[4] == 3.4028235e38f && v.val[5] == 0.0f && v.val[6] == 1.0f,
          "numbers: %g %g %g %g %g %.9g", v.val[0], v.val[1], v.val[2], v.val[3], v.val[4],
          v.val[6]);
    vec_data_free(&v), free(y);
    /* CSV: header found, label first, a class gap, the features in order. */
    CHECK(parse(VEC_CSV, "y,a,b\n0,1.5,2\n2,-3,4e-1\n", &o, &v, &y, &n, &nc, &err) == DANN_OK, "%s", err.msg);
    CHECK(n == 2 && nc == 3 && v.dim == 2 && !v.sparse && v.x[0] == 1.5f && v.x[1] == 2.0f &&
              v.x[2] == -3.0f && v.x[3] == 0.4f && y[0] == 0 && y[1] == 2 && v.line[1] == 3,
          "csv: n %d classes %d dim %d x %g %g %g %g", n, nc, v.dim, v.x[0], v.x[1], v.x[2], v.x[3]);
    vec_data_free(&v), free(y);
    /* CSV without a header (all numbers), header=yes forcing one, -1/+1 last column. */
    o.label = VEC_LABEL_LAST;
    CHECK(parse(VEC_CSV, "1,2,-1\n3,4,1\n", &o, &v, &y, &n, &nc, &err) == DANN_OK, "%s", err.msg);
    CHECK(n == 2 && v.dim == 2 && y[0] == 0 && y[1] == 1 && v.x[2] == 3.0f, "csv label=last");
    vec_data_free(&v), free(y);
    o.header = 1;
    CHECK(parse(VEC_CSV, "1,2,-1\n3,4,1\n", &o, &v, &y, &n, &nc, &err) == DANN_OK, "%s", err.msg);
    CHECK(n == 1 && y[0] == 1 && v.x[0] == 3.0f, "csv header=yes: n %d", n);
    vec_data_free(&v), free(y);
}

TEST(vec_spec_options) {
    static const struct {
        const char *spec, *path;
        int format, base, label, header;
        const char *name;
    } ok[] = {
        {"svmlight:a.svm", "a.svm", VEC_SVMLIGHT, 1, VEC_LABEL_FIRST, -1, ""},
        {"svmlight:/d/a,b.svm,base=0", "/d/a,b.svm", VEC_SVMLIGHT, 0, VEC_LABEL_FIRST, -1, ""},
        {"libsvm:x,label=none,base=1", "x", VEC_SVMLIGHT, 1, VEC_LABEL_NONE, -1, ""},
        {"csv:f.csv,label=y,header=yes", "f.csv", VEC_CSV, 1, VEC_LABEL_NAMED, 1, "y"},
        {"csv:f.csv,label=last", "f.csv", VEC_CSV, 1, VEC_LABEL_LAST, -1, ""},
        {"csv:f,foo=1", "f,foo=1", VEC_CSV, 1, VEC_LABEL_FIRST, -1, ""},  /* not an option */
        {"svmlight:f,header=no", "f,header=no", VEC_SVMLIGHT, 1, VEC_LABEL_FIRST, -1, ""},
    };
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        char path[256];
        int format;
        vec_opts o;
        dann_error err = {0};
        dann_status st = vec_parse_spec(ok[k].spec, &format, path, sizeof path, &o, &err);
        CHECK(st == DANN_OK && !strcmp(path, ok[k].path) && format == ok[k].format &&
                  o.base == ok[k].base && o.label == ok[k].label && o.header == ok[k].header &&
                  !strcmp(o.label_name, ok[k].name),
              "%s: status %d path '%s' base %d label %d header %d (%s)", ok[k].spec, st, path,
              o.base, o.label, o.header, err.msg);
    }
    static const char *const bad[] = {"svmlight:f,base=2", "svmlight:f,label=y", "csv:f,header=maybe",
                                      "csv:f,label=first,label=last", "csv:f,label=", "svmlight:",
                                      "csv:,label=none"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char path[256];
        int format;
        vec_opts o;
        dann_error err = {0};
        CHECK(vec_parse_spec(bad[k], &format, path, sizeof path, &o, &err) == DANN_ERR_ARG &&
                  strstr(err.msg, bad[k]), "%s: accepted or message '%s'", bad[k], err.msg);
    }
}

/* ---- bad input -------------------------------------------------------------------------- */

TEST(vec_bad_input_is_one_line_naming_file_and_line) {
    static const struct {
        const char *opts, *text;
        int csv, line;                  /* line 0: the message names the file only */
        const char *what;
    } cases[] = {
        {"", "", 0, 0, "empty file"},
        {"", "# nothing\n\n   \n", 0, 0, "no examples"},
        {"", "1 3:\n", 0, 1, "empty value"},
        {"", "1 1:1\n1 3\n", 0, 2, "INDEX:VALUE"},
        {"", "1 :5\n", 0, 1, "bad feature index"},
        {"", "1 -3:1\n", 0, 1, "bad feature index"},
        {"", "1 3:abc\n", 0, 1, "not a number"},
        {"", "1 3:1.2.3\n", 0, 1, "not a number"},
        {"", "1 3:0x10\n", 0, 1, "not a number"},
        {"", "1 3:1_0\n", 0, 1, "not a number"},
        {"", "1 1:1\n1 3:nan\n", 0, 2, "NaN or infinite"},
        {"", "1 3:inf\n", 0, 1, "NaN or infinite"},
        {"", "1 3:-Infinity\n", 0, 1, "NaN or infinite"},
        {"", "1 3:1e39\n", 0, 1, "float32"},
        {"", "1 3:-1e400\n", 0, 1, "float32"},
        {"", "abc 1:1\n", 0, 1, "not a number"},
        {"", "0.5 1:1\n", 0, 1, "not an integer"},
        {"", "-2 1:1\n", 0, 1, "out of range"},
        {"", "65536 1:1\n", 0, 1, "out of range"},
        {"", "nan 1:1\n", 0, 1, "NaN"},
        {"", "1 0:1\n", 0, 1, "base=0"},
        {"", "1 3:1 3:2\n", 0, 1, "repeated"},
        {"", "1 5:1 3:2\n", 0, 1, "after a larger"},
        {"", "1 99999999999999999999:1\n", 0, 1, "too large"},
        {"", "1 16777217:1\n", 0, 1, "too large"},
        {",base=0", "1 16777216:1\n", 0, 1, "too large"},
        {"", "1 1:1\n2:1\n", 0, 2, "labelled throughout"},
        {"", "2:1\n1 1:1\n", 0, 2, "labelled throughout"},
        {"", "1 1:1\n-1 2:1\n0 3:1\n", 0, 3, "-1"},
        {"", "1 qid:x 1:1\n", 0, 1, "query id"},
        {"", "1 3:1\0 4:1\n", 0, 1, "not a number"},
        {"", "1 3:1e\n", 0, 1, "not a number"},
        {"", "1 3:123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\n", 0, 1, "128"},
        {"", "", 1, 0, "empty file"},
        {"", "\n# c\n", 1, 0, "no examples"},
        {"", "y,a,b\n", 1, 0, "header line only"},
        {"", "1,2,3\n1,2\n", 1, 2, "2 fields, expected 3"},
        {"", "1,2,3\n1,2,3,4\n", 1, 2, "4 fields, expected 3"},
        {"", "1,2,3\n1,,3\n", 1, 2, "empty value"},
        {"", "1,2,3\n1,nan,3\n", 1, 2, "NaN"},
        {"", "1,2,3\n1,abc,3\n", 1, 2, "not a number"},
        {"", "1,2,3\n1,1e99,3\n", 1, 2, "float32"},
        {"", "1.5,2,3\n", 1, 1, "not an integer"},
        {"", "1,2,3\n-7,2,3\n", 1, 2, "out of range"},
        {"", "-1,2,3\n0,2,3\n", 1, 2, "-1"},
        {",label=z", "a,b,c\n1,2,3\n", 1, 1, "no column named 'z'"},
        {",label=z", "1,2,3\n", 1, 1, "no header"},
        {",label=a", "a,a,c\n1,2,3\n", 1, 1, "two columns named"},
        {"", "1\n2\n", 1, 1, "no feature columns"},
        {",label=none", "1,2\n1,\"2\"\n", 1, 2, "not a number"},
    };
    const char *dir = test_tmpdir();
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char path[512], spec[600];
        snprintf(path, sizeof path, "%s/bad%zu.%s", dir, k, cases[k].csv ? "csv" : "svm");
        size_t len = strlen(cases[k].text);
        if (!strcmp(cases[k].text, "1 3:1")) len = sizeof "1 3:1\0 4:1\n" - 1;  // past the NUL
        tu_write(path, cases[k].text, len);
        snprintf(spec, sizeof spec, "%s:%s%s", cases[k].csv ? "csv" : "svmlight", path, cases[k].opts);
        dataset ds;
        dann_error err = {0};
        dann_status st = dataset_load(&ds, spec, DATA_TRAIN, 28, 28, &err);
        char where[600];
        if (cases[k].line) snprintf(where, sizeof where, "%s:%d: ", path, cases[k].line);
        else snprintf(where, sizeof where, "%s: ", path);
        CHECK(st == DANN_ERR_FORMAT, "case %zu (%s): status %d (%s)", k, cases[k].what, st, err.msg);
        CHECK(strstr(err.msg, where) == err.msg && strstr(err.msg, cases[k].what) &&
                  !strchr(err.msg, '\n'),
              "case %zu: message '%s' should start '%s' and name '%s'", k, err.msg, where,
              cases[k].what);
        CHECK(ds.n == 0 && !ds.vec && !ds.y, "case %zu: dataset not left empty", k);
        dataset_free(&ds);
    }
}

TEST(vec_bad_files) {
    const char *dir = test_tmpdir();
    dataset ds;
    dann_error err = {0};
    char spec[600], path[512];
    /* a directory */
    snprintf(spec, sizeof spec, "svmlight:%s", dir);
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 1, 1, &err) == DANN_ERR_IO &&
              strstr(err.msg, dir) && strstr(err.msg, "directory"), "directory: %s", err.msg);
    /* a FIFO with no writer: refused at once, never blocking */
    snprintf(path, sizeof path, "%s/fifo", dir);
    CHECK(mkfifo(path, 0600) == 0, "mkfifo");
    snprintf(spec, sizeof spec, "csv:%s", path);
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 1, 1, &err) == DANN_ERR_IO &&
              strstr(err.msg, path) && strstr(err.msg, "FIFO"), "FIFO: %s", err.msg);
    /* missing */
    snprintf(spec, sizeof spec, "svmlight:%s/none.svm", dir);
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 1, 1, &err) == DANN_ERR_IO &&
              strstr(err.msg, "none.svm: cannot open"), "missing: %s", err.msg);
    /* a truncated gzip file, and a corrupt one */
    tu_buf b = {0};
    CHECK(tu_read(FIX "pm1.svm.gz", &b), "read pm1.svm.gz");
    snprintf(path, sizeof path, "%s/cut.svm.gz", dir);
    tu_write(path, b.p, b.n / 2);
    snprintf(spec, sizeof spec, "svmlight:%s", path);
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 1, 1, &err) == DANN_ERR_FORMAT &&
              strstr(err.msg, path) && strstr(err.msg, "gzip"), "truncated gzip: %s", err.msg);
    if (b.n > 40) b.p[30] ^= 0xff, b.p[31] ^= 0x55;
    tu_write(path, b.p, b.n);
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 1, 1, &err) == DANN_ERR_FORMAT &&
              strstr(err.msg, path) && strstr(err.msg, "gzip"), "corrupt gzip: %s", err.msg);
    free(b.p);
    /* an absurd size (a sparse file: no disk space used) is refused before reading */
    snprintf(path, sizeof path, "%s/huge.svm", dir);
    tu_write(path, "1 1:1\n", 6);
    if (truncate(path, (off_t)VEC_MAX_BYTES + 1) == 0) {
        snprintf(spec, sizeof spec, "svmlight:%s", path);
        CHECK(dataset_load(&ds, spec, DATA_TRAIN, 1, 1, &err) == DANN_ERR_FORMAT &&
                  strstr(err.msg, path) && strstr(err.msg, "not a data file"), "huge: %s", err.msg);
        unlink(path);
    }
    CHECK(ds.n == 0 && !ds.vec, "left empty");
}

/* ---- the dimension rule and the batches ------------------------------------------------- */

TEST(vec_dimension_and_batches) {
    const char *dir = test_tmpdir();
    char path[512], spec[600];
    snprintf(path, sizeof path, "%s/d.svm", dir);
    const char *text = "1 2:1 5:2\n0 1:3\n1\n0 3:-1 4:0.25 5:7\n";
    tu_write(path, text, strlen(text));
    snprintf(spec, sizeof spec, "svmlight:%s", path);
    dataset ds, sub;
    dann_error err = {0};
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 1, 1, &err) == DANN_OK, "%s", err.msg);
    if (test_failed_now()) return;
    CHECK(ds.c == 5 && ds.vec->max_row_nnz == 3, "dim %d max nnz %d", ds.c, ds.vec->max_row_nnz);
    /* a smaller input: the message names the line and the index as written */
    CHECK(vec_set_dim(&ds, 4, &err) == DANN_ERR_ARG && strstr(err.msg, ":1: feature index 5") &&
              strstr(err.msg, path), "D 4: %s", err.msg);
    /* a larger one: the missing features are zeros */
    CHECK(vec_set_dim(&ds, 9, &err) == DANN_OK && ds.c == 9, "D 9: %s", err.msg);
    float want[4][9] = {{0, 1, 0, 0, 2}, {3}, {0}, {0, 0, -1, 0.25f, 7}};
    int32_t idx[4] = {3, 0, 2, 1}, y[4];
    float x[4 * 9];
    dataset_gather(x, y, &ds, idx, 4, 9);
    int ok = 1;
    for (int b = 0; b < 4; b++)
        for (int j = 0; j < 9; j++) ok &= x[b * 9 + j] == want[idx[b]][j];
    CHECK(ok && y[0] == 0 && y[1] == 1 && y[3] == 0, "dense gather");
    /* sparse batches hold the same rows */
    data_batch bt;
    CHECK(data_batch_init(&bt, &ds, 4, 9, 1, &err) == DANN_OK && bt.sparse, "sparse batch");
    data_batch_gather(&bt, y, &ds, idx, 4);
    ok = bt.in.B == 4 && !bt.in.x && bt.in.rowptr[0] == 0 && bt.in.rowptr[4] == 6;
    for (int b = 0; b < 4 && ok; b++) {
        float row[9] = {0};
        for (int64_t k = bt.in.rowptr[b]; k < bt.in.rowptr[b + 1]; k++) row[bt.in.col[k]] = bt.in.val[k];
        for (int j = 0; j < 9; j++) ok &= row[j] == want[idx[b]][j];
    }
    CHECK(ok, "sparse batch rows differ from the dense ones");
    data_batch_free(&bt);
    /* a subset copies rows, labels and line numbers */
    int32_t pick[2] = {3, 1};
    CHECK(dataset_subset(&sub, &ds, pick, 2, &err) == DANN_OK, "subset");
    dataset_gather(x, y, &sub, (int32_t[]){0, 1}, 2, 9);
    ok = sub.n == 2 && sub.vec->line[0] == 4 && sub.vec->line[1] == 2 && y[0] == 0 && y[1] == 0;
    for (int j = 0; j < 9; j++) ok &= x[j] == want[3][j] && x[9 + j] == want[1][j];
    CHECK(ok, "subset rows");
    dataset_free(&sub);
    dataset_free(&ds);
    /* a dense file must have exactly the input's columns */
    snprintf(path, sizeof path, "%s/d.csv", dir);
    tu_write(path, "0,1,2\n1,3,4\n", 12);
    snprintf(spec, sizeof spec, "csv:%s", path);
    CHECK(dataset_load(&ds, spec, DATA_TRAIN, 1, 1, &err) == DANN_OK, "%s", err.msg);
    CHECK(vec_set_dim(&ds, 3, &err) == DANN_ERR_ARG && strstr(err.msg, "2 feature columns") &&
              strstr(err.msg, path), "csv D: %s", err.msg);
    CHECK(vec_set_dim(&ds, 2, &err) == DANN_OK, "csv D 2");
    dataset_free(&ds);
}
