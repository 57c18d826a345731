/* data.h - datasets in memory and the batch gatherer.
 *
 * A dataset holds its images decoded ONCE as uint8 (n, c, h, w) - already resized to the model's
 * h x w exactly as the reference's torchvision pipeline would (PIL bilinear with antialiasing when
 * shrinking, rounded to uint8 as PIL does) - plus int32 labels. Normalisation to float happens in
 * dataset_gather, per batch, the way torchvision's ToTensor + Normalize compute it in float32:
 *   v = (float)pix / 255.0f;  v = (v - mean[c]) / std[c];
 * Grey images (c == 1) are repeated over the model's 3 channels by the gatherer.
 * mean/std hold 3 values even for a grey set (one per channel of the model's input).
 *
 * Dataset specs (command line):
 *   mnist:DIR        MNIST IDX files in DIR (train-images-idx3-ubyte[.gz], ... t10k-...)
 *   mnistm:PATH      MNIST-M: PATH is the unpacked folder (holding mnist_m_train/,
 *                    mnist_m_test/ and the two label files) or the mnist_m.tar.gz archive
 *   folder:DIR       labelled images DIR/<class>/NAME.{png,jpg,jpeg}; classes are the sorted
 *                    sub-folder names (class_names; dataset_match_classes maps another set's
 *                    labels onto them by name)
 *   images:DIR       unlabelled images DIR/NAME.{png,jpg,jpeg} (labels -1)
 *   csv:FILE[,...]   dense feature vectors; svmlight:FILE[,...] sparse ones (data/vec.h)
 * split: DATA_TRAIN or DATA_TEST picks train-* / t10k-* (mnist:) and mnist_m_train / _test
 * (mnistm:); folder: and images: read DIR for both splits (the CLI takes a separate test spec).
 * mnistm:PATH also accepts a folder holding mnist_m/ or mnist_m.tar.gz. */
#ifndef DANN_DATA_H
#define DANN_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "core/core.h"

enum { DATA_TRAIN = 0, DATA_TEST = 1 };

typedef struct {
    int n, c, h, w;      /* images stored as uint8 (n, c, h, w) */
    uint8_t *pix;
    int32_t *y;          /* n labels in [0, n_classes), or -1 when unlabelled */
    int n_classes;       /* 10 for MNIST / MNIST-M */
    float mean[3], std[3];  /* per stored channel normalisation */
    char name[64];       /* e.g. "mnist-train" for messages */
    /* The class names, label k being class_names[k] (one allocation, freed by dataset_free;
     * NULL when the data names no classes). mnist:/mnistm: name them "0".."9", folder: by its
     * sub-folders. */
    char **class_names;
    /* What loading did, for the CLI's data: lines: the files' own sizes before resizing
     * (in_h_min..in_h_max x in_w_min..in_w_max), how many images were grey in their files
     * (stored RGB when others were colour), and the files of a folder that were not images. */
    int in_h_min, in_h_max, in_w_min, in_w_max;
    int n_grey, n_ignored;
    struct vec_data *vec; /* feature vectors (csv:, svmlight:; c = D, h = w = 1, pix NULL), or
                             NULL for images: data/vec.h */
} dataset;

/* Loads `spec` (see above) resized to h x w. Sets the default normalisation of the kind
 * (MNIST 0.1307/0.3081, MNIST-M 0.5/0.5, folders 0.5/0.5). Every error names the file.
 * Stored channels: MNIST 1, MNIST-M 3, folders 1 only when every image is grey, else 3.
 * On error *ds is left empty (dataset_free is harmless on it). */
dann_status dataset_load(dataset *ds, const char *spec, int split, int h, int w, dann_error *err);
void dataset_free(dataset *ds);

/* Copies B images idx[0..B) into x (B, out_c, h, w) normalised, and their labels into y (may be
 * NULL). out_c must be ds->c or 3 with ds->c == 1 (grey repeated, copy k normalised with
 * mean[k] / std[k]; the defaults repeat one value). The values are bit-identical to the float32
 * formula above. */
void dataset_gather(float *x, int32_t *y, const dataset *ds, const int32_t *idx, int B, int out_c);

/* ---- classes, subsets, normalisation (classes.c) ----------------------------------------- */

/* Gives ds the n class names (copied into one allocation; replaces any earlier ones). */
dann_status dataset_set_class_names(dataset *ds, const char *const *names, int n, dann_error *err);

/* Relabels ds so that its labels index `names` (n classes, e.g. the source's) instead of its own
 * class list, matching the classes by name. A class of ds that is not in names is an error naming
 * both sets (what = the other set's description, e.g. "source folder:A"), and so is a set without
 * class names when its own class count differs from n. *absent (may be NULL) receives how many
 * of names have no image in ds. On success ds->n_classes = n and ds->class_names = a copy of
 * names (when names is not NULL). */
dann_status dataset_match_classes(dataset *ds, const char *const *names, int n, const char *what,
                                  int *absent, dann_error *err);

/* Keeps k of ds's n images, a sample drawn with `seed` (uniform, without replacement), in their
 * original order. k >= n keeps everything. */
dann_status dataset_subsample(dataset *ds, int k, uint64_t seed, dann_error *err);

/* Moves a seeded random k of train's images (a sample as dataset_subsample draws it) into a new
 * set *held (same classes and normalisation), leaving the others in train, in order. */
dann_status dataset_split(dataset *train, dataset *held, int k, uint64_t seed, dann_error *err);

/* Per stored channel mean and (population) standard deviation of pix / 255 over every image,
 * computed exactly from a histogram; a grey set's one value is repeated over 3 channels. */
void dataset_pixel_stats(const dataset *ds, double mean[3], double std[3]);

/* PIL's convert("L") of RGB images, in place: L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16
 * (ITU-R 601-2 luma in PIL's fixed point); ds->c becomes 1. Nothing to do when ds->c == 1. */
void dataset_to_grey(dataset *ds);

/* Individual readers, also used by the tests and the fuzz targets. */
/* MNIST IDX (big-endian, plain or gzip): images magic 0x803 (n, rows, cols), labels 0x801.
 * Rejects empty, truncated or over-long files, zero counts and (when n_classes > 0) labels
 * >= n_classes. The caller frees *pix / *y. */
dann_status idx_read_images(const char *path, uint8_t **pix, int *n, int *rows, int *cols,
                            dann_error *err);
dann_status idx_read_labels(const char *path, int32_t **y, int *n, int n_classes, dann_error *err);
/* Decodes a PNG held in memory (grey, grey+alpha, RGB, RGBA, palette; 8 or 16 bits) to 8-bit
 * RGB (c = 3) or grey (c = 1) as stored; `name` is used in messages. */
/* The default of DANN_MAX_IMAGE_PIXELS: the most pixels (width * height) a PNG or JPEG may
 * declare (2^25, e.g. 8192x4096); checked on the header before anything is allocated. */
#define IMAGE_DEFAULT_MAX_PIXELS ((uint64_t)1 << 25)
dann_status png_decode(const uint8_t *buf, size_t len, const char *name, uint8_t **pix,
                       int *c, int *h, int *w, dann_error *err);
/* Decodes a baseline or progressive JPEG held in memory (grey -> c = 1, YCbCr/RGB -> c = 3; CMYK
 * refused) with libjpeg's default (accurate) decoding, as PIL does; `name` is used in messages. */
dann_status jpeg_decode(const uint8_t *buf, size_t len, const char *name, uint8_t **pix,
                        int *c, int *h, int *w, dann_error *err);
/* 1 when buf starts with a JPEG's SOI marker. */
int jpeg_is_jpeg(const uint8_t *buf, size_t len);
/* png_decode or jpeg_decode, chosen by the file's signature (not its name). */
dann_status image_decode(const uint8_t *buf, size_t len, const char *name, uint8_t **pix,
                         int *c, int *h, int *w, dann_error *err);
/* PIL's Image.resize((ow, oh), BILINEAR) on uint8 planes (c, h, w) -> (c, oh, ow): a
 * separable triangle filter whose support widens by the scale when shrinking (antialias), with
 * PIL's fixed-point rounding, so the bytes equal PIL's. resize_bilinear_pil allocates its
 * scratch (and aborts if it cannot); resize_bilinear_pil_ws runs on caller scratch of at least
 * resize_scratch_bytes(oh, ow, c, h, w) bytes, aligned as malloc's. */
void resize_bilinear_pil(uint8_t *out, int oh, int ow, const uint8_t *inp, int c, int h, int w);
size_t resize_scratch_bytes(int oh, int ow, int c, int h, int w);
void resize_bilinear_pil_ws(uint8_t *out, int oh, int ow, const uint8_t *inp, int c, int h,
                            int w, void *scratch);

#endif
