/* safetensors.h - read and write the safetensors format (the subset the project uses).
 *
 * Layout: an 8-byte little-endian u64 header length N, N bytes of JSON
 *   {"name": {"dtype": "F32"|"I64"|"I32"|"U8", "shape": [..], "data_offsets": [b, e]}, ...,
 *    "__metadata__": {"key": "value", ...}}
 * (possibly padded with trailing spaces), then the raw little-endian tensor bytes; offsets are
 * relative to the start of that data section. As in the reference implementation, the tensors
 * must tile the data section exactly: no overlap, no gap, no trailing bytes.
 *
 * The reader loads the whole file and validates everything before returning (header length,
 * JSON syntax, dtypes, shapes against offsets, duplicate names); each error message names the
 * file. The writer collects borrowed tensors and metadata and writes the file atomically
 * (path.tmp, fsync, rename): on failure no file is left at path or path.tmp.
 * tools/st.py is the Python side of the same format. Little-endian hosts only. */
#ifndef DANN_SAFETENSORS_H
#define DANN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "dann.h"

typedef enum { ST_F32 = 0, ST_I64, ST_I32, ST_U8 } st_dtype;
#define ST_MAX_DIMS 8

/* Bytes per element, and the format's name ("F32", ...). */
size_t st_dtype_size(st_dtype dt);
const char *st_dtype_name(st_dtype dt);

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;                      /* 0 (a scalar) .. ST_MAX_DIMS */
    int64_t shape[ST_MAX_DIMS];
    size_t numel, nbytes;
    size_t offset;                 /* data_offsets[0] */
    const void *data;              /* reader: aligned for dtype, owned by the st_file */
} st_tensor;

typedef struct {
    char *key, *value;
} st_meta;

typedef struct {
    st_tensor *t;                  /* in header order */
    int n;
    st_meta *meta;                 /* in header order */
    int n_meta;
    void *data;                    /* the tensors' bytes, each tensor 8-byte aligned */
} st_file;

/* Reads and validates the file at path. On failure f is left empty (st_free is still safe). */
dann_status st_read(st_file *f, const char *path, dann_error *err);
/* Parses a file already in memory (buf, size); `path` is used in messages only. */
dann_status st_parse(st_file *f, const unsigned char *buf, size_t size, const char *path,
                     dann_error *err);
void st_free(st_file *f);

/* The tensor called name, or NULL. */
const st_tensor *st_find(const st_file *f, const char *name);
/* The metadata value of key, or NULL. */
const char *st_meta_get(const st_file *f, const char *key);

/* ---- writer ---- */
typedef struct {
    st_tensor *t;                  /* names copied, data borrowed until st_write returns */
    int n, cap;
    st_meta *meta;
    int n_meta, cap_meta;
} st_writer;

void st_writer_init(st_writer *w);
void st_writer_free(st_writer *w);
/* Adds a tensor (data is borrowed: it must stay valid until st_write). Rejects a duplicate or
 * empty name, ndim > ST_MAX_DIMS and negative dimensions. */
dann_status st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim,
                          const int64_t *shape, const void *data, dann_error *err);
/* Adds a metadata entry (both strings copied); rejects a duplicate key. */
dann_status st_writer_meta(st_writer *w, const char *key, const char *value, dann_error *err);
/* Writes path atomically: path.tmp is written, flushed, fsync'd and renamed over path. */
dann_status st_write(const st_writer *w, const char *path, dann_error *err);

#endif
