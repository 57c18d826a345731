/* ckpt_impl.h - what the two halves of the checkpoint code share (internal to src/io): the
 * header's field offsets (docs/CHECKPOINT.md's table), flags, the little-endian encoders, CRC-32
 * helpers and the header/text functions of ckpt_header.c that checkpoint.c's writer and payload
 * reader call. */
#ifndef DANN_CKPT_IMPL_H
#define DANN_CKPT_IMPL_H

#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include "io/checkpoint.h"

static const unsigned char CKPT_MAGIC_BYTES[8] = {'D', 'A', 'N', 'N', 'C', 'K', 'P', 'T'};

enum { FLAG_TRAINER = 1u << 0, FLAG_MOMENT2 = 1u << 1, FLAG_KNOWN = FLAG_TRAINER | FLAG_MOMENT2 };

/* Header field offsets: the table in docs/CHECKPOINT.md. */
enum {
    OFF_MAGIC = 0, OFF_VERSION = 8, OFF_HEADER_SIZE = 12, OFF_ARCH = 16, OFF_PRESET = 32,
    OFF_FLAGS = 48, OFF_FINGERPRINT = 52, OFF_MODE = 56, OFF_OPTIMIZER = 60,
    OFF_LR = 64, OFF_BETA1 = 72, OFF_BETA2 = 80, OFF_EPS = 88, OFF_MOMENTUM = 96,
    OFF_WEIGHT_DECAY = 104, OFF_LR_ALPHA = 112, OFF_LR_BETA = 120, OFF_GAMMA = 128,
    OFF_LAMBDA_MAX = 136, OFF_LR_SCHEDULE = 144, OFF_EPOCH = 148, OFF_STEP_IN_EPOCH = 152,
    OFF_EPOCHS = 156, OFF_BATCH = 160, OFF_BEST_EPOCH = 164, OFF_BEST_VAL_ACC = 168,
    OFF_N_BN_COUNTS = 172, OFF_STEPS = 176, OFF_SEED = 184, OFF_N_PARAMS = 192,
    OFF_N_STATE = 200, OFF_TRAINER_RNG = 208, OFF_SHUFFLE_RNG = 240, OFF_TEXT_LEN = 272,
    OFF_TEXT_CRC = 276, OFF_LAMBDA_SCHEDULE = 280, OFF_DOMAIN_LAMBDA = 284, OFF_RESERVED = 288,
    OFF_HEADER_CRC = 316
};
_Static_assert(OFF_HEADER_CRC + 4 == CKPT_HEADER_SIZE, "header layout");

#define IO_CHUNK 65536
/* Largest float count a file may declare per payload: keeps every byte count below 2^62. */
#define MAX_FLOATS (UINT64_C(1) << 58)

/* ---- little-endian encoding ---- */

static inline void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static inline uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static inline void put_f32(unsigned char *p, float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    put_u32(p, u);
}
static inline float get_f32(const unsigned char *p) {
    uint32_t u = get_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline void put_f64(unsigned char *p, double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    put_u64(p, u);
}
static inline double get_f64(const unsigned char *p) {
    uint64_t u = get_u64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

uint32_t ckpt_crc_init(void);
/* zlib's crc32 over any length (it takes a uInt: large spans are fed in pieces). */
uint32_t ckpt_crc_update(uint32_t crc, const unsigned char *p, size_t n);
/* The model's BatchNorm counters (kind 2 tensors), in table order: their count, and their
 * tensor indices in idx (MODEL_MAX_TENSORS entries) when idx is not NULL. */
uint32_t ckpt_bn_counters(const dann_model *m, int *idx);
/* Checks a text block: "key=value\n" lines of printable text (UTF-8 allowed), no NUL. */
int ckpt_text_ok(const char *t, size_t n);
/* The name of the first field of a training configuration outside the range the optimizers
 * and schedules are defined on (lr, beta1, ...), or NULL. */
const char *ckpt_config_bad(const dann_train_config *c);
/* Encodes h into the header block hd; the names must fit (checked by the caller). */
void ckpt_encode_header(unsigned char *hd, const ckpt_info *h);
/* Opens path, checks magic and version and decodes and validates the header into h; on
 * success *f_out is open just past the header, *size holds the file size and hd the raw
 * header bytes. */
dann_status ckpt_open_header(const char *path, FILE **f_out, uint64_t *size, unsigned char *hd,
                             ckpt_info *h, dann_error *err);
/* Reads and checks the text block that follows the header (version 2) into text (text_len + 1
 * bytes): its checksum, its lines, the leading net= line. *net and *kv point into text; the
 * block's bytes are added to *file_crc when it is not NULL. */
dann_status ckpt_read_text(FILE *f, uint64_t size, const ckpt_info *h, char *text,
                           const char **net, const char **kv, uint32_t *file_crc,
                           const char *path, dann_error *err);

#endif
