/* folder.c - image folders: folder:DIR (labelled, torchvision ImageFolder's layout) and
 * images:DIR (unlabelled).
 *
 *   folder:DIR   DIR/<class>/NAME.png|jpg|jpeg; classes are the sub-folder names in sorted
 *                (byte) order, label = the class's rank, n_classes = their count, class_names
 *                = the names (matched by name across sets: dataset_match_classes)
 *   images:DIR   DIR/NAME.png|jpg|jpeg, labels -1, n_classes 0
 * Files are taken in sorted name order (the extensions in any letter case; names starting with
 * '.' are ignored, other regular files are counted in n_ignored; an entry with an image name
 * that is not a regular file - a folder, a FIFO, a dangling link - is an error, not skipped),
 * decoded by their signature (PNG or JPEG, whatever the extension says), resized to h x w with
 * PIL's bilinear filter, and kept as 1-channel grey only when every image is grey; otherwise
 * all are RGB (grey repeated, as PIL's convert("RGB") does). Images may differ in size: each is
 * resized on its own, and the range of the files' sizes is recorded (in_h_min ...). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "data/load.h"

typedef struct {
    char **v;
    int n, cap;
} name_list;

static void names_free(name_list *L) {
    for (int i = 0; i < L->n; i++) free(L->v[i]);
    free(L->v);
    memset(L, 0, sizeof *L);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_image_name(const char *s) {
    static const char *const ext[] = {".png", ".jpg", ".jpeg"};
    size_t n = strlen(s);
    for (int k = 0; k < 3; k++) {
        size_t e = strlen(ext[k]);
        if (n > e && strcasecmp(s + n - e, ext[k]) == 0) return 1;
    }
    return 0;
}

/* The entries of dir that are sub-folders (want_dirs) or carry an image name, sorted; the
 * other regular files are counted in *ignored (may be NULL). Every image-named entry is an
 * input: one that is not a regular file is refused when it is read, not skipped. */
static dann_status list_dir(name_list *L, const char *dir, int want_dirs, int *ignored,
                            dann_error *err) {
    char path[4096];
    struct dirent *d;
    struct stat sb;
    memset(L, 0, sizeof *L);
    DIR *D = opendir(dir);
    if (!D) return dann_fail(err, DANN_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    while ((d = readdir(D))) {
        if (d->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
        const int found = stat(path, &sb) == 0;
        if (want_dirs ? !found || !S_ISDIR(sb.st_mode) : !is_image_name(d->d_name)) {
            if (!want_dirs && ignored && found && S_ISREG(sb.st_mode)) ++*ignored;
            continue;
        }
        if (L->n == L->cap) {
            int cap = L->cap ? 2 * L->cap : 64;
            char **v = realloc(L->v, (size_t)cap * sizeof *v);
            if (!v) goto nomem;
            L->v = v;
            L->cap = cap;
        }
        if (!(L->v[L->n] = strdup(d->d_name))) goto nomem;
        L->n++;
    }
    closedir(D);
    if (L->n > 1) qsort(L->v, (size_t)L->n, sizeof *L->v, cmp_str);
    return DANN_OK;
nomem:
    closedir(D);
    names_free(L);
    return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory listing the folder", dir);
}

/* The files' sizes and colours, as loading goes (dataset's in_h_min ... n_grey). */
static void note_image(dataset *ds, int ih, int iw, int grey) {
    if (ds->n == 0 || ih < ds->in_h_min) ds->in_h_min = ih;
    if (ds->n == 0 || ih > ds->in_h_max) ds->in_h_max = ih;
    if (ds->n == 0 || iw < ds->in_w_min) ds->in_w_min = iw;
    if (ds->n == 0 || iw > ds->in_w_max) ds->in_w_max = iw;
    ds->n_grey += grey;
}

/* Appends the images of dir with label `label` to ds (stored as 3-channel slots of h x w;
 * grey[] records which ones were grey). */
static dann_status add_images(dataset *ds, uint8_t **grey, int *cap, const char *dir, int label,
                              int h, int w, data_scratch *scratch, dann_error *err) {
    name_list files;
    char path[4096];
    size_t slot = (size_t)3 * h * w, len;
    uint8_t *buf;
    int c, ih, iw;
    dann_status st = list_dir(&files, dir, 0, &ds->n_ignored, err);
    if (st) return st;
    if (files.n == 0) {
        names_free(&files);
        return dann_fail(err, DANN_ERR_FORMAT, "%s: no image files (.png, .jpg, .jpeg)", dir);
    }
    for (int i = 0; i < files.n; i++) {
        if (ds->n == *cap) {
            int ncap = *cap ? 2 * *cap : 256;
            uint8_t *pix = realloc(ds->pix, (size_t)ncap * slot), *g;
            if (pix) ds->pix = pix;
            int32_t *y = realloc(ds->y, (size_t)ncap * sizeof *y);
            if (y) ds->y = y;
            if ((g = realloc(*grey, (size_t)ncap))) *grey = g;
            if (!pix || !y || !g) {
                st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory for %d images", dir, ncap);
                break;
            }
            *cap = ncap;
        }
        snprintf(path, sizeof path, "%s/%s", dir, files.v[i]);
        if ((st = read_file(path, &buf, &len, err))) break;
        st = image_to_slot(ds->pix + (size_t)ds->n * slot, 3, h, w, buf, len, path, &c, &ih, &iw,
                           scratch, err);
        free(buf);
        if (st) break;
        note_image(ds, ih, iw, c == 1);
        (*grey)[ds->n] = c == 1;
        ds->y[ds->n++] = label;
    }
    names_free(&files);
    return st;
}

dann_status folder_load(dataset *ds, const char *dir, int labelled, int h, int w,
                        dann_error *err) {
    name_list classes = {0};
    data_scratch scratch = {0};
    uint8_t *grey = NULL;
    char path[4096];
    int cap = 0;
    size_t hw = (size_t)h * w;
    dann_status st;
    if (labelled) {
        if ((st = list_dir(&classes, dir, 1, NULL, err))) return st;
        if (classes.n == 0) {
            st = dann_fail(err, DANN_ERR_FORMAT, "%s: no class sub-folders (folder:DIR needs "
                           "DIR/<class>/NAME.png or .jpg)", dir);
            goto done;
        }
        for (int k = 0; k < classes.n; k++)
            for (const char *p = classes.v[k]; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                    st = dann_fail(err, DANN_ERR_FORMAT, "%s: class folder %d's name has a control "
                                   "character", dir, k);
                    goto done;
                }
        if ((st = dataset_set_class_names(ds, (const char *const *)classes.v, classes.n, err)))
            goto done;
        for (int k = 0; k < classes.n; k++) {
            snprintf(path, sizeof path, "%s/%s", dir, classes.v[k]);
            if ((st = add_images(ds, &grey, &cap, path, k, h, w, &scratch, err))) goto done;
        }
        ds->n_classes = classes.n;
    } else {
        if ((st = add_images(ds, &grey, &cap, dir, -1, h, w, &scratch, err))) goto done;
        ds->n_classes = 0;
    }
    int all_grey = 1;
    for (int i = 0; i < ds->n; i++) all_grey &= grey[i];
    if (all_grey) {  // keep one plane per image (the three are equal)
        for (int i = 0; i < ds->n; i++)
            memmove(ds->pix + (size_t)i * hw, ds->pix + (size_t)i * 3 * hw, hw);
        uint8_t *pix = realloc(ds->pix, (size_t)ds->n * hw);
        if (pix) ds->pix = pix;
    }
    ds->c = all_grey ? 1 : 3;
    ds->h = h;
    ds->w = w;
done:
    names_free(&classes);
    data_scratch_free(&scratch);
    free(grey);
    return st;
}
