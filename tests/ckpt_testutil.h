/* ckpt_testutil.h - byte-level helpers for the tests that edit checkpoint files: read and write
 * whole files, little-endian fields at the offsets of docs/CHECKPOINT.md, the CRCs recomputed
 * after a deliberate edit (so the reader's later checks are reached), the text block's
 * key/value lines replaced, and the failure a crafted file must give. */
#ifndef DANN_CKPT_TESTUTIL_H
#define DANN_CKPT_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include "dann.h"

unsigned char *read_all(const char *path, size_t *len);   /* malloc'd; NULL if unreadable */
int write_all(const char *path, const unsigned char *b, size_t len);   /* 0 on success */
unsigned char *find_bytes(unsigned char *hay, size_t n, const char *needle);
uint32_t le32(const unsigned char *p);
uint64_t le64(const unsigned char *p);
void set_le32(unsigned char *p, uint32_t v);
void set_le64(unsigned char *p, uint64_t v);
void set_f32(unsigned char *p, float f);
void set_f64(unsigned char *p, double d);
double f64_at(const unsigned char *p);
float f32_at(const unsigned char *p);

/* Recomputes the CRCs after a deliberate edit: the text block's (version 2, with a plausible
 * length), the header's, the whole file's. */
void fix_crcs(unsigned char *b, size_t len);

/* Sets key=value in the key/value lines of the checkpoint at path (value NULL: removes the key)
 * and rewrites the file with its lengths and CRCs recomputed. 0 on success. */
int ckpt_file_set_kv(const char *path, const char *key, const char *value);

/* Writes bytes to path (unless b is NULL) and expects ckpt_load to fail with status and a
 * one-line message naming path and containing `what`. */
void expect_load_fail(const char *path, const unsigned char *b, size_t len, dann_status status,
                      const char *what, const char *label);

#endif
