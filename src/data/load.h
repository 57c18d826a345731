/* load.h - private to src/data: the per-kind loaders behind dataset_load and the helpers they
 * share (whole-file reads, PNG-to-dataset-slot conversion, growable scratch memory). */
#ifndef DANN_DATA_LOAD_H
#define DANN_DATA_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include "data/data.h"

/* Each fills ds->n, c, h, w, pix, y, n_classes (mean/std/name are set by dataset_load). */
dann_status mnist_load(dataset *ds, const char *dir, int split, int h, int w, dann_error *err);
dann_status mnistm_load(dataset *ds, const char *path, int split, int h, int w, dann_error *err);
/* MNIST-M's split `sub` ("mnist_m_train" / "mnist_m_test") from the archive at path
 * (mnistm_archive.c). */
dann_status mnistm_load_archive(dataset *ds, const char *path, const char *sub, int h, int w,
                                dann_error *err);
/* labelled: DIR/<class>/NAME.{png,jpg,jpeg}; otherwise DIR/NAME.* with labels -1. Fills the
 * class names and the load report (in_h_min.., n_grey, n_ignored) too. */
dann_status folder_load(dataset *ds, const char *dir, int labelled, int h, int w,
                        dann_error *err);

/* Reads a whole file into a fresh buffer (NUL-terminated, the NUL not counted in *len). */
dann_status read_file(const char *path, uint8_t **buf, size_t *len, dann_error *err);

/* Reusable scratch memory: data_scratch_get returns at least n bytes (NULL + err on failure). */
typedef struct { void *p; size_t cap; } data_scratch;
void *data_scratch_get(data_scratch *s, size_t n, dann_error *err);
void data_scratch_free(data_scratch *s);

/* Decodes the PNG in buf and resizes it (PIL bilinear) into dst (c_out, h, w); c_out is 3
 * (grey is repeated) or 0 to keep the image's own channels, returned in *c. in_h/in_w get the
 * PNG's size. `name` is used in messages. */
/* The same for a PNG or a JPEG (image_decode). */
dann_status image_to_slot(uint8_t *dst, int c_out, int h, int w, const uint8_t *buf, size_t len,
                          const char *name, int *c, int *in_h, int *in_w, data_scratch *scratch,
                          dann_error *err);
dann_status png_to_slot(uint8_t *dst, int c_out, int h, int w, const uint8_t *buf, size_t len,
                        const char *name, int *c, int *in_h, int *in_w, data_scratch *scratch,
                        dann_error *err);

/* MNIST-M's label files (mnistm_labels.c). */
#define MNISTM_CLASSES 10
typedef struct { const char *name; int32_t line; } name_ref;
typedef struct {
    char *text;          /* the file's bytes; names are NUL-terminated in place */
    char **names;        /* n names, file order */
    int32_t *y;          /* n labels */
    name_ref *sorted;    /* the names sorted, for lookup */
    int n;
} label_list;
/* Parses the label file's len bytes in text (which it takes over, also on failure: free with
 * labels_free); `where` names the file in messages. */
dann_status labels_parse(label_list *L, char *text, size_t len, const char *where,
                         dann_error *err);
/* The label line of `name`, or -1 when it is not listed. */
int labels_find(const label_list *L, const char *name);
void labels_free(label_list *L);

#endif
