/* classes.c - what the command line does to whole datasets after loading them: class names and
 * matching classes by name across sets, seeded subsets and held-out splits, pixel statistics for
 * `auto` normalisation, and PIL's RGB-to-grey conversion (data.h has the contracts).
 *
 * Class matching replaces torchvision ImageFolder's rule (label = rank of the sub-folder name in
 * its own folder), under which a test folder lacking one class, or named differently, shifts
 * every label silently: here each set's labels are mapped onto the reference set's names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/data.h"
#include "data/vec.h"

dann_status dataset_set_class_names(dataset *ds, const char *const *names, int n, dann_error *err) {
    size_t bytes = (size_t)n * sizeof(char *);
    for (int k = 0; k < n; k++) bytes += strlen(names[k]) + 1;
    char **v = malloc(bytes ? bytes : 1);
    if (!v) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory for %d class names", ds->name, n);
    char *p = (char *)(v + n);
    for (int k = 0; k < n; k++) {
        size_t len = strlen(names[k]) + 1;
        memcpy(p, names[k], len);
        v[k] = p;
        p += len;
    }
    free(ds->class_names);
    ds->class_names = v;
    return DANN_OK;
}

dann_status dataset_match_classes(dataset *ds, const char *const *names, int n, const char *what,
                                  int *absent, dann_error *err) {
    if (absent) *absent = 0;
    if (!names || !ds->class_names) {
        /* one side names no classes: labels are ranks on both, so the counts must agree */
        if (ds->n_classes != n)
            return dann_fail(err, DANN_ERR_ARG, "%s has %d classes, %s has %d (and cannot be "
                             "matched by name)", ds->name, ds->n_classes, what, n);
        if (names && !ds->class_names) return dataset_set_class_names(ds, names, n, err);
        return DANN_OK;
    }
    int *map = calloc((size_t)(ds->n_classes ? ds->n_classes : 1), sizeof *map);
    char *seen = calloc((size_t)(n ? n : 1), 1);
    dann_status st = DANN_OK;
    if (!map || !seen) {
        st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory matching classes", ds->name);
        goto done;
    }
    for (int k = 0; k < ds->n_classes; k++) {
        map[k] = -1;
        for (int j = 0; j < n && map[k] < 0; j++)
            if (!strcmp(ds->class_names[k], names[j])) map[k] = j;
        if (map[k] < 0) {
            int shown = 0;
            char list[160] = "";
            for (int j = 0; j < n && shown < 5; j++, shown++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'", j ? ", " : "",
                         names[j]);
            st = dann_fail(err, DANN_ERR_ARG, "%s: class '%s' is not a class of %s (%s%s): classes "
                           "are matched by their folder names", ds->name, ds->class_names[k], what,
                           list, n > shown ? ", ..." : "");
            goto done;
        }
    }
    for (int i = 0; i < ds->n; i++)
        if (ds->y[i] >= 0) {
            ds->y[i] = map[ds->y[i]];
            seen[ds->y[i]] = 1;
        }
    if (absent)
        for (int j = 0; j < n; j++) *absent += !seen[j];
    ds->n_classes = n;
    st = dataset_set_class_names(ds, names, n, err);
done:
    free(map);
    free(seen);
    return st;
}

/* keep[i] = 1 for a seeded sample of k of n indices (a partial Fisher-Yates shuffle). */
static dann_status sample(char *keep, int n, int k, uint64_t seed, dann_error *err) {
    int32_t *perm = malloc((size_t)n * sizeof *perm);
    if (!perm) return dann_fail(err, DANN_ERR_NOMEM, "out of memory drawing a sample of %d", k);
    dann_rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) perm[i] = i;
    rng_shuffle(&r, perm, n);
    memset(keep, 0, (size_t)n);
    for (int i = 0; i < k; i++) keep[perm[i]] = 1;
    free(perm);
    return DANN_OK;
}

/* Copies the images i with keep[i] == want from src into dst's arrays (in order). */
static void compact(dataset *dst, const dataset *src, const char *keep, int want) {
    const size_t img = (size_t)src->c * src->h * src->w;
    int m = 0;
    for (int i = 0; i < src->n; i++) {
        if (keep[i] != want) continue;
        if (dst->pix + (size_t)m * img != src->pix + (size_t)i * img)
            memmove(dst->pix + (size_t)m * img, src->pix + (size_t)i * img, img);
        dst->y[m++] = src->y[i];
    }
    dst->n = m;
}

/* Feature vectors (data/vec.h): the examples i with keep[i] == want, copied into *out. */
static dann_status vec_keep(dataset *out, const dataset *ds, const char *keep, int want,
                            dann_error *err) {
    int32_t *idx = malloc(sizeof *idx * (size_t)(ds->n ? ds->n : 1));
    if (!idx) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", ds->name);
    int m = 0;
    for (int i = 0; i < ds->n; i++)
        if (keep[i] == want) idx[m++] = i;
    dann_status st = dataset_subset(out, ds, idx, m, err);
    free(idx);
    return st;
}

dann_status dataset_subsample(dataset *ds, int k, uint64_t seed, dann_error *err) {
    if (k >= ds->n || k < 1) return DANN_OK;
    char *keep = malloc((size_t)ds->n);
    if (!keep) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", ds->name);
    dann_status st = sample(keep, ds->n, k, seed, err);
    if (!st && ds->vec) {
        dataset kept;
        if (!(st = vec_keep(&kept, ds, keep, 1, err))) {
            dataset_free(ds);
            *ds = kept;
        }
    } else if (!st) {
        compact(ds, ds, keep, 1);
    }
    free(keep);
    return st;
}

dann_status dataset_split(dataset *train, dataset *held, int k, uint64_t seed, dann_error *err) {
    memset(held, 0, sizeof *held);
    if (k < 1 || k >= train->n)
        return dann_fail(err, DANN_ERR_ARG, "%s: cannot hold out %d of its %d images", train->name,
                         k, train->n);
    if (train->vec) {
        char *keep = malloc((size_t)train->n);
        dataset rest;
        dann_status st = keep ? sample(keep, train->n, k, seed, err)
                              : dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", train->name);
        if (!st) st = vec_keep(held, train, keep, 1, err);
        if (!st && (st = vec_keep(&rest, train, keep, 0, err))) dataset_free(held);
        if (!st) {
            dataset_free(train);
            *train = rest;
        }
        free(keep);
        return st;
    }
    const size_t img = (size_t)train->c * train->h * train->w;
    char *keep = malloc((size_t)train->n);
    *held = *train;
    held->class_names = NULL;
    held->pix = malloc((size_t)k * img);
    held->y = malloc((size_t)k * sizeof *held->y);
    dann_status st = DANN_OK;
    if (!keep || !held->pix || !held->y) st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory "
                                                       "for a held-out split", train->name);
    if (!st) st = sample(keep, train->n, k, seed, err);
    if (!st && train->class_names)
        st = dataset_set_class_names(held, (const char *const *)train->class_names,
                                     train->n_classes, err);
    if (!st) {
        compact(held, train, keep, 1);
        compact(train, train, keep, 0);
    }
    free(keep);
    if (st) dataset_free(held);
    return st;
}

void dataset_pixel_stats(const dataset *ds, double mean[3], double std[3]) {
    const size_t plane = (size_t)ds->h * ds->w;
    for (int c = 0; c < 3; c++) mean[c] = 0, std[c] = 1;
    for (int c = 0; c < ds->c && c < 3 && !ds->vec; c++) {
        /* a histogram keeps the sums exact (integers) and the pass cheap */
        uint64_t hist[256] = {0};
        for (int i = 0; i < ds->n; i++) {
            const uint8_t *p = ds->pix + ((size_t)i * ds->c + c) * plane;
            for (size_t k = 0; k < plane; k++) hist[p[k]]++;
        }
        double n = 0, s = 0, ss = 0;
        for (int v = 0; v < 256; v++) {
            const double x = v / 255.0, h = (double)hist[v];
            n += h, s += h * x;
        }
        const double m = n > 0 ? s / n : 0;
        for (int v = 0; v < 256; v++) {
            const double d = v / 255.0 - m;
            ss += (double)hist[v] * d * d;
        }
        mean[c] = m;
        std[c] = n > 0 ? sqrt(ss / n) : 1;
    }
    if (ds->c == 1) mean[1] = mean[2] = mean[0], std[1] = std[2] = std[0];
}

void dataset_to_grey(dataset *ds) {
    if (ds->c != 3 || ds->vec) return;
    const size_t plane = (size_t)ds->h * ds->w;
    for (int i = 0; i < ds->n; i++) {
        const uint8_t *r = ds->pix + (size_t)i * 3 * plane, *g = r + plane, *b = g + plane;
        uint8_t *o = ds->pix + (size_t)i * plane;  /* behind the reads: o[k] <= r[k] in memory */
        for (size_t k = 0; k < plane; k++)
            o[k] = (uint8_t)((19595u * r[k] + 38470u * g[k] + 7471u * b[k] + 0x8000u) >> 16);
    }
    ds->c = 1;
}
