/* mnistm_archive.c - MNIST-M straight from its archive (the distributed mnist_m.tar.gz; libarchive:
 * tar or zip, plain or compressed), in one streaming pass.
 *
 * Members (under any prefix, e.g. "mnist_m/"): SPLIT_labels.txt and SPLIT/NAME.png, SPLIT being
 * mnist_m_train or mnist_m_test. The label file may come before or after the images, so images
 * are decoded into a pool in archive order, each with its name; once the pass is over, names are
 * matched to label lines through the sorted index, and the pool is permuted in place into label
 * order (no second copy of the pixels). Images of the split that the labels do not list are
 * dropped (not decoded when they come after the labels).
 *
 * Every check is independent of the members' order, so the pass reads every member header to the
 * end (for the test split of the real archive, held first, that costs the decompression of the
 * rest; see docs): the archive is refused, naming both members, when a name appears twice - the
 * same path twice, a label file of either split under two prefixes, or an image of either split
 * under two prefixes (two copies of one MNIST-M image, of which one would silently win). An image
 * that cannot be decoded, or whose size differs from the split's, counts only when the labels
 * list it: its error is kept and reported after the pass (the size check compares the listed
 * images with the label file's first). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "data/load.h"

#define MNISTM_MAX_ENTRY ((size_t)64 << 20)

/* ---- images decoded in archive order ------------------------------------------------------ */

typedef struct {
    char *name;          /* the member's path */
    const char *base;    /* its file name (inside name) */
    int32_t label;       /* label line, -1 when unlisted */
    int h, w;            /* the PNG's size (0 when it failed) */
    dann_status st;      /* decoding result; msg holds the message when it failed */
    char *msg;
} pool_img;

typedef struct {
    uint8_t *pix;        /* n slots of 3*h*w bytes, archive order */
    pool_img *img;
    int n, cap;
} image_pool;

static void pool_free(image_pool *P) {
    for (int i = 0; i < P->n; i++) {
        free(P->img[i].name);
        free(P->img[i].msg);
    }
    free(P->pix);
    free(P->img);
    memset(P, 0, sizeof *P);
}

static dann_status pool_grow(image_pool *P, size_t slot, const char *where, dann_error *err) {
    if (P->n < P->cap) return DANN_OK;
    int cap = P->cap ? 2 * P->cap : 1024;
    uint8_t *pix = realloc(P->pix, (size_t)cap * slot);
    if (pix) P->pix = pix;
    pool_img *img = realloc(P->img, (size_t)cap * sizeof *img);
    if (img) P->img = img;
    if (!pix || !img)
        return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory for %d images", where, cap);
    P->cap = cap;
    return DANN_OK;
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
        if (P->img[i].label >= 0) src[P->img[i].label] = i;
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

/* ---- member names, for the duplicate check ------------------------------------------------- */

typedef struct {
    char *key;           /* what must be unique: see member_key */
    char *name;          /* the member's path */
    int order;           /* its place in the archive */
} member;

typedef struct {
    member *m;
    int n, cap;
} member_list;

static void members_free(member_list *M) {
    for (int i = 0; i < M->n; i++) {
        free(M->m[i].key);
        free(M->m[i].name);
    }
    free(M->m);
    memset(M, 0, sizeof *M);
}

static int is_png_name(const char *s) {
    size_t n = strlen(s);
    return n > 4 && strcasecmp(s + n - 4, ".png") == 0;
}

static int is_split(const char *s) {
    return strcmp(s, "mnist_m_train") == 0 || strcmp(s, "mnist_m_test") == 0;
}

static int is_labels_name(const char *s) {
    return strcmp(s, "mnist_m_train_labels.txt") == 0 || strcmp(s, "mnist_m_test_labels.txt") == 0;
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

/* A label file's key is its file name, an image of a split "SPLIT/NAME" (whatever the prefix
 * before them), any other member its whole path. */
static dann_status members_add(member_list *M, const char *name, const char *parent,
                               const char *base, const char *where, dann_error *err) {
    if (M->n == M->cap) {
        int cap = M->cap ? 2 * M->cap : 1024;
        member *g = realloc(M->m, (size_t)cap * sizeof *g);
        if (!g) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", where);
        M->m = g;
        M->cap = cap;
    }
    member *m = &M->m[M->n];
    size_t kl = strlen(parent) + strlen(base) + 2;
    m->name = strdup(name);
    m->key = malloc(kl);
    if (!m->name || !m->key) {
        free(m->name);
        free(m->key);
        return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", where);
    }
    if (is_labels_name(base)) snprintf(m->key, kl, "%s", base);
    else if (is_split(parent) && is_png_name(base)) snprintf(m->key, kl, "%s/%s", parent, base);
    else snprintf(m->key, kl, "%s", name);
    m->order = M->n++;
    return DANN_OK;
}

static int cmp_member(const void *a, const void *b) {
    const member *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Refuses the archive when two members share a key (the earliest such pair in key order). */
static dann_status members_check(member_list *M, const char *path, dann_error *err) {
    if (M->n > 1) qsort(M->m, (size_t)M->n, sizeof *M->m, cmp_member);
    for (int i = 1; i < M->n; i++) {
        const member *a = &M->m[i - 1], *b = &M->m[i];
        if (strcmp(a->key, b->key)) continue;
        if (!strcmp(a->name, b->name))
            return dann_fail(err, DANN_ERR_FORMAT, "%s: the member %s is in the archive twice",
                             path, a->name);
        return dann_fail(err, DANN_ERR_FORMAT, "%s: %s is in the archive twice: %s and %s", path,
                         a->key, a->name, b->name);
    }
    return DANN_OK;
}

/* ---- the pass ----------------------------------------------------------------------------- */

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

/* Decodes the current entry (an image of the split) into the pool's next slot. A decoding error
 * is kept with the image, not returned: it matters only if the labels list the image. */
static dann_status pool_add(image_pool *P, struct archive *a, const char *ename, const char *where,
                            int h, int w, uint8_t **buf, size_t *cap, data_scratch *scratch,
                            dann_error *err) {
    size_t slot = (size_t)3 * h * w, len;
    dann_status st;
    if ((st = pool_grow(P, slot, where, err))) return st;
    pool_img *im = &P->img[P->n];
    memset(im, 0, sizeof *im);
    if (!(im->name = strdup(ename))) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", where);
    im->base = strrchr(im->name, '/') ? strrchr(im->name, '/') + 1 : im->name;
    im->label = -1;
    P->n++;
    if ((st = read_entry(a, buf, cap, &len, where, err))) return st;  // the archive itself: fatal
    dann_error sub = {0};
    int c;
    uint8_t *dst = P->pix + (size_t)(P->n - 1) * slot;
    im->st = png_to_slot(dst, 3, h, w, *buf, len, where, &c, &im->h, &im->w, scratch, &sub);
    if (im->st) {
        memset(dst, 0, slot);
        im->h = im->w = 0;
        if (!(im->msg = strdup(sub.msg)))
            return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", where);
    }
    return DANN_OK;
}

/* After the pass: matches pool images to label lines and checks what the labels list. */
static dann_status match_listed(image_pool *P, const label_list *L, const char *path,
                                const char *sub, const char *labels_name, dann_error *err) {
    int32_t *at = malloc((size_t)L->n * sizeof *at);  // pool index of each label line
    if (!at) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", path);
    for (int li = 0; li < L->n; li++) at[li] = -1;
    for (int i = 0; i < P->n; i++) {
        P->img[i].label = labels_find(L, P->img[i].base);
        if (P->img[i].label >= 0) at[P->img[i].label] = i;  // unique: duplicates were refused
    }
    dann_status st = DANN_OK;
    const pool_img *first = NULL;
    for (int li = 0; li < L->n && !st; li++) {
        if (at[li] < 0) {
            st = dann_fail(err, DANN_ERR_FORMAT, "%s: %s/%s (listed in %s) is not in the archive",
                           path, sub, L->names[li], labels_name);
            break;
        }
        const pool_img *im = &P->img[at[li]];
        if (im->st) st = dann_fail(err, im->st, "%s", im->msg);
        else if (!first) first = im;
        else if (im->h != first->h || im->w != first->w)
            st = dann_fail(err, DANN_ERR_FORMAT, "%s:%s: image is %dx%d but the split's first (%s) "
                           "is %dx%d", path, im->name, im->h, im->w, first->base, first->h,
                           first->w);
    }
    free(at);
    return st;
}

dann_status mnistm_load_archive(dataset *ds, const char *path, const char *sub, int h, int w,
                                dann_error *err) {
    char labels_name[64], parent[64], where[4200];
    size_t slot = (size_t)3 * h * w, cap = 0, len;
    uint8_t *buf = NULL;
    image_pool P = {0};
    label_list L = {0};
    member_list M = {0};
    data_scratch scratch = {0};
    int have_labels = 0, fd = -1;
    struct archive_entry *e;
    snprintf(labels_name, sizeof labels_name, "%s_labels.txt", sub);
    dann_status st = file_open_regular(path, &fd, NULL, err);
    if (st) return st;
    struct archive *a = archive_read_new();
    if (!a) {
        close(fd);
        return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory opening the archive", path);
    }
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);  // ustar, pax and GNU tar
    archive_read_support_format_gnutar(a);
    archive_read_support_format_zip(a);
    if (archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
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
        if ((st = members_add(&M, ename, parent, base, path, err))) goto done;
        if (strcmp(base, labels_name) == 0 && !have_labels) {  // a second one: refused below
            if ((st = read_entry(a, &buf, &cap, &len, where, err))) goto done;
            char *text = malloc(len + 1);
            if (!text) {
                st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", where);
                goto done;
            }
            memcpy(text, buf, len + 1);
            if ((st = labels_parse(&L, text, len, where, err))) goto done;
            have_labels = 1;
        } else if (strcmp(parent, sub) == 0 && is_png_name(base)) {
            if (have_labels && labels_find(&L, base) < 0) continue;  // not listed: skip
            if ((st = pool_add(&P, a, ename, where, h, w, &buf, &cap, &scratch, err))) goto done;
        }
    }
    if ((st = members_check(&M, path, err))) goto done;
    if (!have_labels) {
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: no %s in the archive", path, labels_name);
        goto done;
    }
    if ((st = match_listed(&P, &L, path, sub, labels_name, err))) goto done;
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
    close(fd);
    free(buf);
    pool_free(&P);
    labels_free(&L);
    members_free(&M);
    data_scratch_free(&scratch);
    return st;
}
