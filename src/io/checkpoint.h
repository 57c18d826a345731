/* checkpoint.h - the versioned binary checkpoint format (docs/CHECKPOINT.md has the byte layout).
 *
 * A checkpoint holds a model (its network description, flat parameters, BatchNorm running
 * statistics and per-layer update counters) and, optionally, the trainer (its full dann_train_config,
 * optimizer step count, dropout RNG and moment buffers) plus the run position the CLI needs to
 * resume (ckpt_meta): epoch and step within it, run length, batch size, seed, data-shuffle RNG
 * and the best-so-far metrics.
 * Everything is little-endian with fixed-width fields, encoded and decoded byte by byte, so a
 * file is portable across hosts. A CRC-32 of the header and one of the whole file guard against
 * corruption; a fingerprint of the architecture's tensor table (names, kinds, shapes) rejects a
 * file written for another layout. Saving is atomic: the file appears complete or not at all. */
#ifndef DANN_CHECKPOINT_H
#define DANN_CHECKPOINT_H

#include <stdint.h>
#include "dann.h"

#define CKPT_VERSION 2          /* the version this build writes; it also reads version 1 */
#define CKPT_HEADER_SIZE 320    /* bytes of the fixed header (both versions) */
#define CKPT_NAME_LEN 16        /* architecture and preset fields, zero-padded */
#define CKPT_KV_MAX 65536       /* the caller's key/value text (ckpt_meta.kv), with its NUL */
#define CKPT_NET_MAX 4096       /* the network description, with its NUL */
#define CKPT_TEXT_MAX (CKPT_KV_MAX + 8192)  /* the whole text block: net=... plus kv */

/* The run position and bookkeeping stored next to the tensors. The library does not interpret
 * these fields; the CLI's conventions are in docs/CHECKPOINT.md ("Resuming"). */
typedef struct {
    char preset[CKPT_NAME_LEN];  /* preset name, NUL-terminated (at most 15 characters) */
    uint32_t epoch;              /* epoch to continue in (0-based) */
    uint32_t step_in_epoch;      /* steps of that epoch already done */
    uint32_t epochs;             /* epochs of the whole run */
    uint32_t batch;              /* batch size per domain */
    uint64_t seed;               /* the run's seed */
    uint64_t shuffle_rng[4];     /* data-shuffle RNG state (see docs: start of `epoch`) */
    float best_val_acc;          /* best validation accuracy so far (model selection) */
    uint32_t best_epoch;         /* the epoch that reached it */
    /* The caller's own key/value lines, "key=value\n" each (keys [a-z0-9._-], values without
     * newlines), stored in the version-2 text block after the network description: class
     * names, normalisation, ... (see ckpt_kv_get/ckpt_kv_set). */
    char kv[CKPT_KV_MAX];
} ckpt_meta;

/* The value of `key` in kv text into out (cap bytes). Returns 1 when found (and it fits). */
int ckpt_kv_get(const char *kv, const char *key, char *out, size_t cap);
/* Sets key to value in the kv text (replacing an earlier value). DANN_ERR_ARG for a malformed
 * key or value (newline, NUL) or when kv (CKPT_KV_MAX bytes) would overflow. */
dann_status ckpt_kv_set(char *kv, const char *key, const char *value, dann_error *err);

/* Everything the header says; filled by ckpt_peek. */
typedef struct {
    uint32_t version;
    char arch[CKPT_NAME_LEN];    /* NUL-terminated */
    ckpt_meta meta;
    int has_trainer;             /* optimizer state present: cfg, steps, trainer_rng, moment1 */
    int has_moment2;             /* second moment present (Adam) */
    dann_train_config cfg;       /* valid when has_trainer */
    uint64_t steps;              /* optimizer steps done (0 without a trainer) */
    uint64_t trainer_rng[4];     /* the trainer's dropout RNG (0 without a trainer) */
    uint64_t n_params, n_state;  /* floats in the parameter and state payloads */
    uint32_t n_bn_counts;        /* BatchNorm num_batches_tracked counters (int64 payload) */
    uint32_t fingerprint;        /* CRC-32 of the architecture's tensor table */
    uint32_t text_len;           /* version 2: bytes of the text block after the header */
    uint32_t text_crc;           /* version 2: its CRC-32 */
    char net[CKPT_NET_MAX];      /* ckpt_peek: the network description ("py3" for version 1) */
    uint64_t file_size;          /* the size a complete file with this header has */
} ckpt_info;

/* Writes model m (and trainer t unless NULL: "weights only") with meta (NULL: all zero) to
 * path, atomically: path.tmp in the same directory is written, flushed, fsync'd, closed and
 * renamed over path. On any failure path.tmp is removed and an existing file at path is left as
 * it was. Returns DANN_ERR_ARG for names that do not fit (arch or preset longer than 15
 * characters), DANN_ERR_IO when the file cannot be written, DANN_ERR_NOMEM. */
dann_status ckpt_save(const char *path, const dann_model *m, const dann_trainer *t,
                      const ckpt_meta *meta, dann_error *err);

/* Reads the checkpoint at path and creates the model it holds (architecture from the file,
 * activations for max_batch images; max_batch <= 0 uses the stored batch size, or 128 when none
 * is stored) with its parameters, BatchNorm statistics and counters restored bit for bit. When
 * t_out is non-NULL it also creates a trainer for that model with the stored configuration,
 * step count, RNG and moments (DANN_ERR_FORMAT if the file holds weights only). meta (may be
 * NULL) receives the stored ckpt_meta. On success the caller owns *m_out (and *t_out; free the
 * trainer first). On failure nothing is allocated, *m_out / *t_out are NULL and err names the
 * file and the problem: missing/unreadable file (DANN_ERR_IO); not a checkpoint, unsupported
 * version, corrupt header, truncated or oversized file, checksum mismatch, unknown architecture,
 * tensor layout or sizes that differ from this build's architecture (DANN_ERR_FORMAT); a stored
 * configuration that dann_trainer_new rejects (its status, DANN_ERR_ARG). */
dann_status ckpt_load(const char *path, int max_batch, dann_model **m_out, dann_trainer **t_out,
                      ckpt_meta *meta, dann_error *err);

/* Reads and validates the header and the text block of path (magic, version, checksums, field
 * ranges) into info, with the network description in info->net and the caller's key/value
 * lines in info->meta.kv. Does not read the payloads or compile the network. */
dann_status ckpt_peek(const char *path, ckpt_info *info, dann_error *err);

/* 1, and a description (the buffer, tensor, value and element) in msg of cap bytes, when m's
 * parameters or BatchNorm statistics or t's moments (t may be NULL) hold a value no training
 * produces: a NaN or an infinity, a negative running variance or Adam second moment. This is
 * what ckpt_save refuses to write (DANN_ERR_NUMERIC) and ckpt_load to read. 0 otherwise. */
int ckpt_values_bad(const dann_model *m, const dann_trainer *t, char *msg, size_t cap);

/* The fingerprint stored in checkpoints of m: CRC-32 of its input shape, class count and tensor
 * table (see docs/CHECKPOINT.md). */
uint32_t ckpt_fingerprint(const dann_model *m);

#endif
