/* mnistm.c - MNIST-M, from its unpacked folder or straight from the distributed mnist_m.tar.gz.
 *
 * Layout (names relative to the folder, or to any prefix such as "mnist_m/" in the archive):
 *   mnist_m_train/00000000.png ...   mnist_m_train_labels.txt  ("00000000.png 5" per line)
 *   mnist_m_test/00000000.png ...    mnist_m_test_labels.txt
 * The dataset's order is the label file's line order; every image is decoded once, resized
 * (PIL bilinear, so 32x32 -> 28x28 equals torchvision's Resize(28)) and stored as RGB; grey
 * PNGs are repeated over 3 channels as PIL's convert("RGB") does. All images of a split must
 * share one size.
 *
 * The archive is read in a single streaming pass (libarchive: tar or zip, plain or compressed).
 * The label file may come before or after the images, so images are decoded into a pool in
 * archive order, each with its name; once the labels are known, names are matched through a
 * sorted index, and the pool is permuted in place into label order at the end (no second copy
 * of the pixels). Only ".png" members of the split's folder are images; those not listed in
 * the labels are dropped. The pass stops as soon as the labels and every image they list have
 * been seen (the real archive holds the test split first, so DATA_TEST reads ~15% of it). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "data/load.h"

#define MNISTM_CLASSES 10
#define MNISTM_MAX_ENTRY ((size_t)64 << 20)

/* ---- label file --------------------------------------------------------------------------- */

typedef struct { const char *name; int32_t line; } name_ref;

typedef struct {
    char *text;          /* the file's bytes; names are NUL-terminated in place */
    char **names;        /* n names, file order */
    int32_t *y;          /* n labels */
    name_ref *sorted;    /* the names sorted, for lookup */
    int n;
} label_list;

static void labels_free(label_list *L) {
    free(L->text);
    free(L->names);
    free(L->y);
    free(L->sorted);
    memset(L, 0, sizeof *L);
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const name_ref *)a)->name, ((const name_ref *)b)->name);
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* Parses "NAME LABEL" lines (LF or CRLF; blank lines ignored). Takes ownership of text. */
static dann_status labels_parse(label_list *L, char *text, size_t len, const char *where,
                                dann_error *err) {
    size_t cap = 1;
    memset(L, 0, sizeof *L);
    L->text = text;
    for (size_t i = 0; i < len; i++) cap += text[i] == '\n';
    L->names = malloc(cap * sizeof *L->names);
    L->y = malloc(cap * sizeof *L->y);
    L->sorted = malloc(cap * sizeof *L->sorted);
    if (!L->names || !L->y || !L->sorted)
        return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory for %zu labels", where, cap);
    int line = 0;
    for (size_t pos = 0; pos < len;) {
        size_t end = pos;
        while (end < len && text[end] != '\n') end++;
        size_t next = end + 1, s = pos, e = end;
        line++;
        while (e > s && is_blank(text[e - 1])) e--;
        while (s < e && is_blank(text[s])) s++;
        pos = next;
        if (s == e) continue;
        size_t ne = s, ls;
        while (ne < e && !is_blank(text[ne])) ne++;
        ls = ne;
        while (ls < e && is_blank(text[ls])) ls++;
        int label = 0, digits = 0, ok = ls > ne && ls < e;
        for (size_t k = ls; ok && k < e; k++) {
            if (text[k] < '0' || text[k] > '9') ok = 0;
            else if (++digits <= 9) label = label * 10 + (text[k] - '0');
        }
        if (!ok) {
            int shown = (int)(e - s < 60 ? e - s : 60);
            return dann_fail(err, DANN_ERR_FORMAT, "%s:%d: bad line '%.*s' (expected \"NAME LABEL\")",
                             where, line, shown, text + s);
        }
        if (digits > 9 || label >= MNISTM_CLASSES)
            return dann_fail(err, DANN_ERR_FORMAT, "%s:%d: label %.*s out of range [0, %d)", where,
                             line, (int)(e - ls), text + ls, MNISTM_CLASSES);
        text[ne] = 0;
        if (strchr(text + s, '/') || strcmp(text + s, ".") == 0 || strcmp(text + s, "..") == 0)
            return dann_fail(err, DANN_ERR_FORMAT, "%s:%d: bad file name '%s'", where, line,
                             text + s);
        L->names[L->n] = text + s;
        L->y[L->n] = label;
        L->sorted[L->n].name = text + s;
        L->sorted[L->n].line = L->n;
        L->n++;
    }
    if (L->n == 0) return dann_fail(err, DANN_ERR_FORMAT, "%s: no labels", where);
    qsort(L->sorted, (size_t)L->n, sizeof *L->sorted, cmp_by_name);
    for (int i = 1; i < L->n; i++)
        if (strcmp(L->sorted[i - 1].name, L->sorted[i].name) == 0)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: '%s' is listed twice", where,
                             L->sorted[i].name);
    return DANN_OK;
}

/* Index of `name` in the label list, or -1. */
static int labels_find(const label_list *L, const char *name) {
    int lo = 0, hi = L->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(L->sorted[mid].name, name);
        if (c == 0) return L->sorted[mid].line;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* Checks one decoded image's size against the split's first one. */
static dann_status same_size(int *h0, int *w0, int h, int w, const char *name, dann_error *err) {
    if (*h0 == 0) {
        *h0 = h;
        *w0 = w;
    }
    if (h != *h0 || w != *w0)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: image is %dx%d but the split's first is %dx%d",
                         name, h, w, *h0, *w0);
    return DANN_OK;
}

/* ---- unpacked folder ---------------------------------------------------------------------- */

static dann_status load_folder(dataset *ds, const char *dir, const char *sub, int h, int w,
                               dann_error *err) {
    char path[4096];
    label_list L = {0};
    uint8_t *text, *buf = NULL;
    size_t len, slot = (size_t)3 * h * w;
    data_scratch scratch = {0};
    int c, ih, iw, h0 = 0, w0 = 0;
    snprintf(path, sizeof path, "%s/%s_labels.txt", dir, sub);
    dann_status st = read_file(path, &text, &len, err);
    if (st) return st;
    if ((st = labels_parse(&L, (char *)text, len, path, err))) goto done;
    ds->pix = malloc((size_t)L.n * slot);
    ds->y = malloc((size_t)L.n * sizeof *ds->y);
    if (!ds->pix || !ds->y) {
        st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory for %d images", path, L.n);
        goto done;
    }
    for (int i = 0; i < L.n; i++) {
        snprintf(path, sizeof path, "%s/%s/%s", dir, sub, L.names[i]);
        if ((st = read_file(path, &buf, &len, err))) goto done;
        st = png_to_slot(ds->pix + (size_t)i * slot, 3, h, w, buf, len, path, &c, &ih, &iw,
                         &scratch, err);
        free(buf);
        if (st || (st = same_size(&h0, &w0, ih, iw, path, err))) goto done;
        ds->y[i] = L.y[i];
    }
    ds->n = L.n;
done:
    data_scratch_free(&scratch);
    labels_free(&L);
    return st;
}

/* ---- archive ------------------------------------------------------------------------------ */

typedef struct {
    uint8_t *pix;        /* images in archive order, slot bytes each */
    char **names;        /* their base names */
    int32_t *label_of;   /* label line of each, -1 while unknown or unlisted */
    int n, cap;
} image_pool;

static void pool_free(image_pool *P) {
    for (int i = 0; i < P->n; i++) free(P->names[i]);
    free(P->pix);
    free(P->names);
    free(P->label_of);
    memset(P, 0, sizeof *P);
}

static dann_status pool_grow(image_pool *P, size_t slot, const char *where, dann_error *err) {
    if (P->n < P->cap) return DANN_OK;
    int cap = P->cap ? 2 * P->cap : 1024;
    uint8_t *pix = realloc(P->pix, (size_t)cap * slot);
    if (pix) P->pix = pix;
    char **names = realloc(P->names, (size_t)cap * sizeof *names);
    if (names) P->names = names;
    int32_t *lab = realloc(P->label_of, (size_t)cap * sizeof *lab);
    if (lab) P->label_of = lab;
    if (!pix || !names || !lab)
        return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory for %d images", where, cap);
    P->cap = cap;
    return DANN_OK;
}

/* Matches pool image i to its label line; found[] marks lines already matched. */
static dann_status pool_match(image_pool *P, int i, const label_list *L, uint8_t *found,
                              int *n_found, const char *where, const char *sub, dann_error *err) {
    int li = labels_find(L, P->names[i]);
    P->label_of[i] = li;
    if (li < 0) return DANN_OK;
    if (found[li])
        return dann_fail(err, DANN_ERR_FORMAT, "%s: %s/%s appears twice in the archive", where, sub,
                         P->names[i]);
    found[li] = 1;
    (*n_found)++;
    return DANN_OK;
}

/* Reads the current entry's data into *buf (grown as needed); *len bytes. */
static dann_status read_entry(struct archive *a, uint8_t **buf, size_t *cap, size_t *len,
                              const char *where, dann_error *err) {
    *len = 0;
    for (;;) {
        if (*cap - *len < 4096) {
            size_t ncap = *cap ? 2 * *cap : 1 << 16;
            uint8_t *nb = ncap > MNISTM_MAX_ENTRY ? NULL : realloc(*buf, ncap);
            if (!nb)
                return dann_fail(err, ncap > MNISTM_MAX_ENTRY ? DANN_ERR_FORMAT : DANN_ERR_NOMEM,
                                 "%s: entry too large or out of memory (%zu bytes)", where, ncap);
            *buf = nb;
            *cap = ncap;
        }
        la_ssize_t r = archive_read_data(a, *buf + *len, *cap - *len - 1);
        if (r < 0)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: corrupt archive: %s", where,
                             archive_error_string(a));
        if (r == 0) break;
        *len += (size_t)r;
    }
    (*buf)[*len] = 0;
    return DANN_OK;
}

static int is_png_name(const char *s) {
    size_t n = strlen(s);
    return n > 4 && strcasecmp(s + n - 4, ".png") == 0;
}

/* Splits "a/b/mnist_m_test/x.png" into its last two components (parent may be ""). */
static void split_path(const char *p, char *parent, size_t pcap, const char **base) {
    const char *s = strrchr(p, '/'), *q;
    *base = s ? s + 1 : p;
    parent[0] = 0;
    if (!s) return;
    for (q = s; q > p && q[-1] != '/'; q--) {}
    size_t n = (size_t)(s - q);
    if (n < pcap) {
        memcpy(parent, q, n);
        parent[n] = 0;
    }
}

/* Reorders pool images into label order in place: position i receives label line i's image;
 * unlisted images go to the end (and are cut off by the caller). */
static dann_status pool_to_label_order(image_pool *P, int n_labels, size_t slot, const char *where,
                                       dann_error *err) {
    int32_t *src = malloc((size_t)P->n * sizeof *src);
    uint8_t *done = calloc((size_t)P->n, 1), *tmp = malloc(slot);
    dann_status st = DANN_OK;
    if (!src || !done || !tmp) {
        st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory ordering %d images", where, P->n);
        goto out;
    }
    int extra = n_labels;
    for (int i = 0; i < P->n; i++) {
        if (P->label_of[i] >= 0) src[P->label_of[i]] = i;
        else src[extra++] = i;
    }
    /* new[j] = old[src[j]], following each cycle of the permutation once. */
    for (int s = 0; s < P->n; s++) {
        if (done[s] || src[s] == s) continue;
        memcpy(tmp, P->pix + (size_t)s * slot, slot);
        int j = s;
        while (src[j] != s) {
            memcpy(P->pix + (size_t)j * slot, P->pix + (size_t)src[j] * slot, slot);
            done[j] = 1;
            j = src[j];
        }
        memcpy(P->pix + (size_t)j * slot, tmp, slot);
        done[j] = 1;
    }
out:
    free(src);
    free(done);
    free(tmp);
    return st;
}

static dann_status load_archive(dataset *ds, const char *path, const char *sub, int h, int w,
                                dann_error *err) {
    char labels_name[64], parent[64], where[4200];
    size_t slot = (size_t)3 * h * w, cap = 0, len;
    uint8_t *buf = NULL, *found = NULL;
    image_pool P = {0};
    label_list L = {0};
    data_scratch scratch = {0};
    int have_labels = 0, n_found = 0, c, ih, iw, h0 = 0, w0 = 0;
    struct archive_entry *e;
    dann_status st = DANN_OK;
    snprintf(labels_name, sizeof labels_name, "%s_labels.txt", sub);

    struct archive *a = archive_read_new();
    if (!a) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory opening the archive", path);
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);  // ustar, pax and GNU tar
    archive_read_support_format_gnutar(a);
    archive_read_support_format_zip(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        /* libarchive reports an unknown format as EILSEQ (ARCHIVE_ERRNO_FILE_FORMAT) or -1. */
        int code = archive_errno(a);
        st = dann_fail(err, code == EILSEQ || code == -1 ? DANN_ERR_FORMAT : DANN_ERR_IO,
                       "%s: cannot read the archive: %s", path, archive_error_string(a));
        goto done;
    }
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
            st = dann_fail(err, DANN_ERR_FORMAT, "%s: corrupt archive: %s", path,
                           archive_error_string(a));
            goto done;
        }
        const char *ename = archive_entry_pathname(e), *base;
        if (!ename || archive_entry_filetype(e) != AE_IFREG) continue;
        split_path(ename, parent, sizeof parent, &base);
        snprintf(where, sizeof where, "%s:%s", path, ename);
        if (strcmp(base, labels_name) == 0) {
            if (have_labels) {
                st = dann_fail(err, DANN_ERR_FORMAT, "%s: a second %s", where, labels_name);
                goto done;
            }
            if ((st = read_entry(a, &buf, &cap, &len, where, err))) goto done;
            char *text = malloc(len + 1);
            if (!text) {
                st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", where);
                goto done;
            }
            memcpy(text, buf, len + 1);
            if ((st = labels_parse(&L, text, len, where, err))) goto done;
            have_labels = 1;
            if (!(found = calloc((size_t)L.n, 1))) {
                st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", where);
                goto done;
            }
            for (int i = 0; i < P.n; i++)
                if ((st = pool_match(&P, i, &L, found, &n_found, path, sub, err))) goto done;
        } else if (strcmp(parent, sub) == 0 && is_png_name(base)) {
            if (have_labels && labels_find(&L, base) < 0) continue;  // not listed: skip
            if ((st = pool_grow(&P, slot, path, err))) goto done;
            if ((st = read_entry(a, &buf, &cap, &len, where, err))) goto done;
            st = png_to_slot(P.pix + (size_t)P.n * slot, 3, h, w, buf, len, where, &c, &ih, &iw,
                             &scratch, err);
            if (st || (st = same_size(&h0, &w0, ih, iw, where, err))) goto done;
            if (!(P.names[P.n] = strdup(base))) {
                st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", where);
                goto done;
            }
            P.label_of[P.n++] = -1;
            if (have_labels && (st = pool_match(&P, P.n - 1, &L, found, &n_found, path, sub, err)))
                goto done;
        }
        if (have_labels && n_found == L.n) break;
    }
    if (!have_labels) {
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: no %s in the archive", path, labels_name);
        goto done;
    }
    if (n_found < L.n) {
        int i = 0;
        while (found[i]) i++;
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: %s/%s (listed in %s) is not in the archive", path,
                       sub, L.names[i], labels_name);
        goto done;
    }
    if ((st = pool_to_label_order(&P, L.n, slot, path, err))) goto done;
    uint8_t *pix = realloc(P.pix, (size_t)L.n * slot);  // drop unlisted images at the end
    if (pix) P.pix = pix;
    if (!(ds->y = malloc((size_t)L.n * sizeof *ds->y))) {
        st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    memcpy(ds->y, L.y, (size_t)L.n * sizeof *ds->y);
    ds->pix = P.pix;
    P.pix = NULL;
    ds->n = L.n;
done:
    archive_read_free(a);
    free(buf);
    free(found);
    pool_free(&P);
    labels_free(&L);
    data_scratch_free(&scratch);
    return st;
}

/* ---- entry point -------------------------------------------------------------------------- */

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

dann_status mnistm_load(dataset *ds, const char *path, int split, int h, int w, dann_error *err) {
    const char *sub = split == DATA_TEST ? "mnist_m_test" : "mnist_m_train";
    char p[4096];
    dann_status st;
    if (is_file(path)) st = load_archive(ds, path, sub, h, w, err);
    else if (snprintf(p, sizeof p, "%s/%s_labels.txt", path, sub), is_file(p))
        st = load_folder(ds, path, sub, h, w, err);
    else if (snprintf(p, sizeof p, "%s/mnist_m", path), is_dir(p))
        return mnistm_load(ds, p, split, h, w, err);  // a data root: its mnist_m/ folder (unpacked or holding the archive)
    else if (snprintf(p, sizeof p, "%s/mnist_m.tar.gz", path), is_file(p))
        st = load_archive(ds, p, sub, h, w, err);
    else
        return dann_fail(err, DANN_ERR_IO,
                         "%s: not MNIST-M (no %s_labels.txt, mnist_m/ or mnist_m.tar.gz in it)",
                         path, sub);
    if (st) return st;
    ds->c = 3;
    ds->h = h;
    ds->w = w;
    ds->n_classes = MNISTM_CLASSES;
    return DANN_OK;
}
