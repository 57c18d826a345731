/* checkpoint.c - writer and reader of the checkpoint format of docs/CHECKPOINT.md.
 *
 * Every field is encoded with explicit byte shifts into little-endian order and decoded the same
 * way; floating-point values travel as their IEEE-754 bit patterns (copied with memcpy, never
 * through a pointer cast), so the bytes do not depend on the host. The 320-byte header is built
 * in memory; the payloads are streamed through a 64 KiB buffer while a running CRC-32 (zlib's)
 * covers every byte; the file ends with that CRC.
 *
 * Version 2 adds a text block after the header (its length in the header): "key=value" lines,
 * the first "net=<canonical network description>", then the caller's own (ckpt_meta.kv). A
 * version-1 file (no text block) names its architecture in the header; it can only be py3.
 *
 * Load order, chosen so each error names the actual problem: open -> magic -> version -> header
 * size -> header CRC -> field ranges -> text block -> network compiled -> model created ->
 * tensor fingerprint and sizes -> file length (truncated / trailing bytes) -> payloads -> file
 * CRC. Payloads are
 * decoded straight into the new model's (and trainer's) buffers; on any failure both are freed,
 * so a caller never sees a half-restored model. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "io/checkpoint.h"
#include "model/model.h"

static const unsigned char CKPT_MAGIC[8] = {'D', 'A', 'N', 'N', 'C', 'K', 'P', 'T'};

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

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static void put_f32(unsigned char *p, float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    put_u32(p, u);
}
static float get_f32(const unsigned char *p) {
    uint32_t u = get_u32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static void put_f64(unsigned char *p, double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    put_u64(p, u);
}
static double get_f64(const unsigned char *p) {
    uint64_t u = get_u64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static uint32_t crc_init(void) { return (uint32_t)crc32(0L, Z_NULL, 0); }

/* zlib's crc32 takes a uInt length: feed large spans in pieces. */
static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n) {
    uLong c = crc;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

uint32_t ckpt_fingerprint(const dann_model *m) {
    unsigned char b[8];
    int dims[4];
    uint32_t crc = crc_init();
    dann_model_shape(m, &dims[0], &dims[1], &dims[2], &dims[3]);
    for (int i = 0; i < 4; i++) {
        put_u32(b, (uint32_t)dims[i]);
        crc = crc_update(crc, b, 4);
    }
    int n = dann_model_tensors(m, 0, NULL);
    for (int i = 0; i < n; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        crc = crc_update(crc, (const unsigned char *)ti.name, strlen(ti.name) + 1);
        put_u32(b, (uint32_t)ti.kind);
        crc = crc_update(crc, b, 4);
        put_u32(b, (uint32_t)ti.ndim);
        crc = crc_update(crc, b, 4);
        for (int d = 0; d < ti.ndim; d++) {
            put_u64(b, (uint64_t)ti.shape[d]);
            crc = crc_update(crc, b, 8);
        }
    }
    return crc;
}

/* The model's BatchNorm counters (kind 2 tensors), in table order: their count, and their
 * tensor indices in idx (MODEL_MAX_TENSORS entries) when idx is not NULL. */
static uint32_t bn_counters(const dann_model *m, int *idx) {
    uint32_t k = 0;
    int n = dann_model_tensors(m, 0, NULL);
    for (int i = 0; i < n; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (ti.kind != TENSOR_BN_COUNT) continue;
        if (idx) idx[k] = i;
        k++;
    }
    return k;
}

/* ---- header ---- */

/* Reads a zero-padded name field into out; 0 unless it holds printable ASCII (at least one
 * character unless allow_empty) followed only by zero bytes. */
static int get_name(char *out, const unsigned char *p, int allow_empty) {
    int n = 0;
    while (n < CKPT_NAME_LEN && p[n]) n++;
    if (n == CKPT_NAME_LEN || (n == 0 && !allow_empty)) return 0;
    for (int i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e) return 0;
    for (int i = n; i < CKPT_NAME_LEN; i++)
        if (p[i]) return 0;
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    return 1;
}

static uint64_t expected_size(const ckpt_info *h) {
    uint64_t floats = h->n_params * (uint64_t)(1 + h->has_trainer + h->has_moment2) + h->n_state;
    return CKPT_HEADER_SIZE + h->text_len + 4 * floats + 8 * (uint64_t)h->n_bn_counts + 4;
}

/* ---- the key/value text ---- */

static int key_ok(const char *k, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* The line of kv holding key, or NULL; *len receives the line's length without its newline. */
static const char *kv_find(const char *kv, const char *key, size_t *len) {
    const size_t kl = strlen(key);
    for (const char *line = kv; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n > kl && line[kl] == '=' && !strncmp(line, key, kl)) {
            *len = n;
            return line;
        }
        line += n + (nl != NULL);
    }
    return NULL;
}

int ckpt_kv_get(const char *kv, const char *key, char *out, size_t cap) {
    size_t n;
    const char *line = kv_find(kv, key, &n);
    if (!line) return 0;
    size_t vl = n - strlen(key) - 1;
    if (vl + 1 > cap) return 0;
    memcpy(out, line + strlen(key) + 1, vl);
    out[vl] = '\0';
    return 1;
}

dann_status ckpt_kv_set(char *kv, const char *key, const char *value, dann_error *err) {
    if (!key_ok(key, strlen(key)))
        return dann_fail(err, DANN_ERR_ARG, "checkpoint key '%s': only [a-z0-9._-] allowed", key);
    if (strchr(value, '\n'))
        return dann_fail(err, DANN_ERR_ARG, "checkpoint value of '%s' holds a newline", key);
    size_t n;
    char *line = (char *)kv_find(kv, key, &n);
    if (line) {  // drop the old line
        size_t tail = strlen(line + n + 1);
        memmove(line, line + n + 1, tail + 1);
    }
    size_t used = strlen(kv), need = strlen(key) + 1 + strlen(value) + 1;
    if (used + need + 1 > CKPT_KV_MAX)
        return dann_fail(err, DANN_ERR_ARG, "checkpoint metadata too long (%zu bytes, at most %d)",
                         used + need, CKPT_KV_MAX - 1);
    snprintf(kv + used, CKPT_KV_MAX - used, "%s=%s\n", key, value);
    return DANN_OK;
}

/* Checks a text block: "key=value\n" lines of printable text (UTF-8 allowed), no NUL. */
static int text_ok(const char *t, size_t n) {
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(t + i, '\n', n - i);
        if (!nl) return 0;
        size_t len = (size_t)(nl - (t + i));
        const char *eq = memchr(t + i, '=', len);
        if (!eq || !key_ok(t + i, (size_t)(eq - (t + i)))) return 0;
        for (size_t j = i; j < i + len; j++)
            if ((unsigned char)t[j] < 0x20 || t[j] == 0x7f) return 0;
        i += len + 1;
    }
    return 1;
}

/* Encodes h into the header block hd; the names must fit (checked by the caller). */
static void encode_header(unsigned char *hd, const ckpt_info *h) {
    memset(hd, 0, CKPT_HEADER_SIZE);
    memcpy(hd + OFF_MAGIC, CKPT_MAGIC, sizeof CKPT_MAGIC);
    put_u32(hd + OFF_VERSION, CKPT_VERSION);
    put_u32(hd + OFF_TEXT_LEN, h->text_len);
    put_u32(hd + OFF_TEXT_CRC, h->text_crc);
    put_u32(hd + OFF_HEADER_SIZE, CKPT_HEADER_SIZE);
    memcpy(hd + OFF_ARCH, h->arch, strlen(h->arch));
    memcpy(hd + OFF_PRESET, h->meta.preset, strlen(h->meta.preset));
    put_u32(hd + OFF_FLAGS,
            (h->has_trainer ? FLAG_TRAINER : 0u) | (h->has_moment2 ? FLAG_MOMENT2 : 0u));
    put_u32(hd + OFF_FINGERPRINT, h->fingerprint);
    if (h->has_trainer) {
        const dann_train_config *c = &h->cfg;
        put_u32(hd + OFF_MODE, (uint32_t)c->mode);
        put_u32(hd + OFF_OPTIMIZER, (uint32_t)c->optimizer);
        put_f64(hd + OFF_LR, c->lr);
        put_f64(hd + OFF_BETA1, c->beta1);
        put_f64(hd + OFF_BETA2, c->beta2);
        put_f64(hd + OFF_EPS, c->eps);
        put_f64(hd + OFF_MOMENTUM, c->momentum);
        put_f64(hd + OFF_WEIGHT_DECAY, c->weight_decay);
        put_f64(hd + OFF_LR_ALPHA, c->lr_alpha);
        put_f64(hd + OFF_LR_BETA, c->lr_beta);
        put_f64(hd + OFF_GAMMA, c->gamma);
        put_f64(hd + OFF_LAMBDA_MAX, c->lambda_max);
        put_u32(hd + OFF_LR_SCHEDULE, (uint32_t)c->lr_schedule);
        put_u32(hd + OFF_LAMBDA_SCHEDULE, (uint32_t)c->lambda_schedule);
        put_u32(hd + OFF_DOMAIN_LAMBDA, (uint32_t)c->domain_lambda);
        put_u64(hd + OFF_STEPS, h->steps);
        for (int i = 0; i < 4; i++) put_u64(hd + OFF_TRAINER_RNG + 8 * i, h->trainer_rng[i]);
    }
    put_u32(hd + OFF_EPOCH, h->meta.epoch);
    put_u32(hd + OFF_STEP_IN_EPOCH, h->meta.step_in_epoch);
    put_u32(hd + OFF_EPOCHS, h->meta.epochs);
    put_u32(hd + OFF_BATCH, h->meta.batch);
    put_u32(hd + OFF_BEST_EPOCH, h->meta.best_epoch);
    put_f32(hd + OFF_BEST_VAL_ACC, h->meta.best_val_acc);
    put_u32(hd + OFF_N_BN_COUNTS, h->n_bn_counts);
    put_u64(hd + OFF_SEED, h->meta.seed);
    put_u64(hd + OFF_N_PARAMS, h->n_params);
    put_u64(hd + OFF_N_STATE, h->n_state);
    for (int i = 0; i < 4; i++) put_u64(hd + OFF_SHUFFLE_RNG + 8 * i, h->meta.shuffle_rng[i]);
    put_u32(hd + OFF_HEADER_CRC, crc_update(crc_init(), hd, OFF_HEADER_CRC));
}

/* Validates and decodes a complete header whose magic and version have been checked. */
static dann_status decode_header(ckpt_info *h, const unsigned char *hd, const char *path,
                                 dann_error *err) {
    memset(h, 0, sizeof *h);
    h->version = get_u32(hd + OFF_VERSION);
    uint32_t hsize = get_u32(hd + OFF_HEADER_SIZE);
    if (hsize != CKPT_HEADER_SIZE)
        return dann_fail(err, DANN_ERR_FORMAT,
                         "%s: header size %u (version %u headers are %d bytes)", path, hsize,
                         h->version, CKPT_HEADER_SIZE);
    uint32_t crc = crc_update(crc_init(), hd, OFF_HEADER_CRC);
    if (crc != get_u32(hd + OFF_HEADER_CRC))
        return dann_fail(err, DANN_ERR_FORMAT,
                         "%s: corrupt header (checksum mismatch: stored %08x, computed %08x)",
                         path, get_u32(hd + OFF_HEADER_CRC), crc);
    if (!get_name(h->arch, hd + OFF_ARCH, 0))
        return dann_fail(err, DANN_ERR_FORMAT, "%s: malformed architecture name field", path);
    if (!get_name(h->meta.preset, hd + OFF_PRESET, 1))
        return dann_fail(err, DANN_ERR_FORMAT, "%s: malformed preset name field", path);
    uint32_t flags = get_u32(hd + OFF_FLAGS);
    if (flags & ~(uint32_t)FLAG_KNOWN)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: unknown flags 0x%x", path, flags);
    /* Version 2 gave two of its reserved words a meaning (zero is the old meaning, so files
     * written before keep theirs): the lambda schedule and the domain-lambda switch. */
    for (int off = h->version == 1 ? OFF_TEXT_LEN : OFF_RESERVED; off < OFF_HEADER_CRC; off++)
        if (hd[off]) return dann_fail(err, DANN_ERR_FORMAT, "%s: reserved bytes not zero", path);
    const uint32_t lsched = get_u32(hd + OFF_LAMBDA_SCHEDULE), dlam = get_u32(hd + OFF_DOMAIN_LAMBDA);
    if (lsched > 1) return dann_fail(err, DANN_ERR_FORMAT, "%s: unknown lambda schedule %u", path, lsched);
    if (dlam > 1) return dann_fail(err, DANN_ERR_FORMAT, "%s: domain-lambda switch %u (0 or 1)", path, dlam);
    if (!(flags & FLAG_TRAINER) && (lsched || dlam))
        return dann_fail(err, DANN_ERR_FORMAT, "%s: lambda fields set without a trainer", path);
    h->text_len = h->version == 1 ? 0 : get_u32(hd + OFF_TEXT_LEN);
    h->text_crc = h->version == 1 ? 0 : get_u32(hd + OFF_TEXT_CRC);
    if (h->version >= 2 && (h->text_len == 0 || h->text_len > CKPT_TEXT_MAX))
        return dann_fail(err, DANN_ERR_FORMAT, "%s: text block of %u bytes (1..%d)", path,
                         h->text_len, CKPT_TEXT_MAX);
    h->has_trainer = (flags & FLAG_TRAINER) != 0;
    h->has_moment2 = (flags & FLAG_MOMENT2) != 0;
    h->fingerprint = get_u32(hd + OFF_FINGERPRINT);
    if (h->has_trainer) {
        uint32_t mode = get_u32(hd + OFF_MODE), opt = get_u32(hd + OFF_OPTIMIZER);
        uint32_t sched = get_u32(hd + OFF_LR_SCHEDULE);
        if (mode > DANN_MODE_TARGET_ONLY)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: unknown training mode %u", path, mode);
        if (opt > DANN_OPT_SGD)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: unknown optimizer %u", path, opt);
        if (sched > 1)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: unknown lr schedule %u", path, sched);
        if (h->has_moment2 != (opt == DANN_OPT_ADAM))
            return dann_fail(err, DANN_ERR_FORMAT,
                             "%s: second-moment flag does not match the optimizer", path);
        dann_train_config *c = &h->cfg;
        c->mode = (dann_mode)mode;
        c->optimizer = (dann_optimizer)opt;
        c->lr = get_f64(hd + OFF_LR);
        c->beta1 = get_f64(hd + OFF_BETA1);
        c->beta2 = get_f64(hd + OFF_BETA2);
        c->eps = get_f64(hd + OFF_EPS);
        c->momentum = get_f64(hd + OFF_MOMENTUM);
        c->weight_decay = get_f64(hd + OFF_WEIGHT_DECAY);
        c->lr_alpha = get_f64(hd + OFF_LR_ALPHA);
        c->lr_beta = get_f64(hd + OFF_LR_BETA);
        c->gamma = get_f64(hd + OFF_GAMMA);
        c->lambda_max = get_f64(hd + OFF_LAMBDA_MAX);
        c->lr_schedule = (int32_t)sched;
        c->lambda_schedule = (int32_t)lsched;
        c->domain_lambda = (int32_t)dlam;
        h->steps = get_u64(hd + OFF_STEPS);
        if (h->steps > (uint64_t)INT64_MAX)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: step count out of range", path);
        for (int i = 0; i < 4; i++) h->trainer_rng[i] = get_u64(hd + OFF_TRAINER_RNG + 8 * i);
    } else if (h->has_moment2) {
        return dann_fail(err, DANN_ERR_FORMAT, "%s: second-moment flag without a trainer", path);
    }
    h->meta.epoch = get_u32(hd + OFF_EPOCH);
    h->meta.step_in_epoch = get_u32(hd + OFF_STEP_IN_EPOCH);
    h->meta.epochs = get_u32(hd + OFF_EPOCHS);
    h->meta.batch = get_u32(hd + OFF_BATCH);
    h->meta.best_epoch = get_u32(hd + OFF_BEST_EPOCH);
    h->meta.best_val_acc = get_f32(hd + OFF_BEST_VAL_ACC);
    h->meta.seed = get_u64(hd + OFF_SEED);
    for (int i = 0; i < 4; i++) h->meta.shuffle_rng[i] = get_u64(hd + OFF_SHUFFLE_RNG + 8 * i);
    h->n_bn_counts = get_u32(hd + OFF_N_BN_COUNTS);
    h->n_params = get_u64(hd + OFF_N_PARAMS);
    h->n_state = get_u64(hd + OFF_N_STATE);
    if (h->n_params > MAX_FLOATS || h->n_state > MAX_FLOATS)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: tensor sizes out of range", path);
    h->file_size = expected_size(h);
    return DANN_OK;
}

/* ---- writing ---- */

typedef struct {
    FILE *f;
    uint32_t crc;
    unsigned char *buf;
    size_t n;
    int failed;  /* an errno value once a write failed */
} writer;

static void w_flush(writer *w) {
    if (w->failed || w->n == 0) return;
    w->crc = crc_update(w->crc, w->buf, w->n);
    errno = 0;
    if (fwrite(w->buf, 1, w->n, w->f) != w->n) w->failed = errno ? errno : EIO;
    w->n = 0;
}

/* Append n floats / one u64 to the buffer, flushing when it is full. */
static void w_floats(writer *w, const float *x, uint64_t n) {
    for (uint64_t i = 0; i < n && !w->failed; i++) {
        if (IO_CHUNK - w->n < 4) w_flush(w);
        put_f32(w->buf + w->n, x[i]);
        w->n += 4;
    }
}
static void w_u64(writer *w, uint64_t v) {
    if (w->failed) return;
    if (IO_CHUNK - w->n < 8) w_flush(w);
    put_u64(w->buf + w->n, v);
    w->n += 8;
}

/* Streams header, payloads and the final CRC into f; 0 or an errno value. */
static int write_body(FILE *f, const unsigned char *hd, const char *text, const dann_model *m,
                      const float *params, const float *state, const float *m1, const float *m2,
                      const ckpt_info *h, unsigned char *buf) {
    writer w = {.f = f, .crc = crc_init(), .buf = buf};
    int idx[MODEL_MAX_TENSORS];
    memcpy(w.buf, hd, CKPT_HEADER_SIZE);
    w.n = CKPT_HEADER_SIZE;
    for (uint32_t i = 0; i < h->text_len && !w.failed; i++) {
        if (w.n == IO_CHUNK) w_flush(&w);
        w.buf[w.n++] = (unsigned char)text[i];
    }
    w_floats(&w, params, h->n_params);
    w_floats(&w, state, h->n_state);
    bn_counters(m, idx);
    for (uint32_t i = 0; i < h->n_bn_counts; i++)
        w_u64(&w, (uint64_t)dann_model_bn_count(m, idx[i]));
    if (m1) w_floats(&w, m1, h->n_params);
    if (m2) w_floats(&w, m2, h->n_params);
    w_flush(&w);
    if (!w.failed) {
        unsigned char c[4];
        put_u32(c, w.crc);
        errno = 0;
        if (fwrite(c, 1, 4, f) != 4) w.failed = errno ? errno : EIO;
    }
    return w.failed;
}

/* fsyncs the directory holding path so the rename itself is durable. A directory that cannot
 * be synced (some file systems refuse) does not fail the save: the file at path is complete. */
static void sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir) return;
    if (n == 0) {
        strcpy(dir, ".");
    } else {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

dann_status ckpt_save(const char *path, const dann_model *m, const dann_trainer *t,
                      const ckpt_meta *meta, dann_error *err) {
    DANN_ASSERT(path && m);
    ckpt_info h;
    memset(&h, 0, sizeof h);
    if (meta) h.meta = *meta;
    const char *arch = dann_model_arch(m);
    if (strlen(arch) >= CKPT_NAME_LEN)
        return dann_fail(err, DANN_ERR_ARG, "%s: architecture name '%s' longer than %d characters",
                         path, arch, CKPT_NAME_LEN - 1);
    if (memchr(h.meta.preset, '\0', CKPT_NAME_LEN) == NULL)
        return dann_fail(err, DANN_ERR_ARG, "%s: preset name longer than %d characters", path,
                         CKPT_NAME_LEN - 1);
    memcpy(h.arch, arch, strlen(arch) + 1);
    if (memchr(h.meta.kv, '\0', CKPT_KV_MAX) == NULL || !text_ok(h.meta.kv, strlen(h.meta.kv)))
        return dann_fail(err, DANN_ERR_ARG, "%s: malformed checkpoint metadata lines", path);
    char *text = dann_calloc(CKPT_TEXT_MAX + 1, 1, err);
    if (!text) return DANN_ERR_NOMEM;
    int tl = snprintf(text, CKPT_TEXT_MAX + 1, "net=%s\n%s", dann_model_description(m), h.meta.kv);
    if (tl < 0 || tl > CKPT_TEXT_MAX) {
        free(text);
        return dann_fail(err, DANN_ERR_ARG, "%s: checkpoint metadata too long", path);
    }
    h.text_len = (uint32_t)tl;
    h.text_crc = crc_update(crc_init(), (const unsigned char *)text, (size_t)tl);
    /* The accessors take non-const handles because callers may write through them; this
     * function only reads. */
    dann_model *mm = (dann_model *)m;
    dann_trainer *tt = (dann_trainer *)t;
    size_t n_params, n_state;
    const float *params = dann_model_params(mm, &n_params);
    const float *state = dann_model_state(mm, &n_state);
    const float *m1 = NULL;
    float *m2 = NULL;
    h.n_params = n_params;
    h.n_state = n_state;
    h.n_bn_counts = bn_counters(m, NULL);
    h.fingerprint = ckpt_fingerprint(m);
    if (t) {
        h.has_trainer = 1;
        h.cfg = *dann_trainer_config(t);
        int64_t steps = dann_trainer_steps(t);
        DANN_ASSERT(steps >= 0);
        h.steps = (uint64_t)steps;
        memcpy(h.trainer_rng, dann_trainer_rng(tt), sizeof h.trainer_rng);
        m1 = dann_trainer_moments(tt, &m2);
        DANN_ASSERT(m1 != NULL && (m2 != NULL) == (h.cfg.optimizer == DANN_OPT_ADAM));
        h.has_moment2 = m2 != NULL;
    }
    unsigned char hd[CKPT_HEADER_SIZE];
    encode_header(hd, &h);

    size_t plen = strlen(path);
    char *tmp = dann_calloc(plen + 5, 1, err);
    unsigned char *buf = tmp ? dann_calloc(IO_CHUNK, 1, err) : NULL;
    if (!buf) {
        free(tmp);
        free(text);
        return DANN_ERR_NOMEM;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    dann_status s = DANN_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        s = dann_fail(err, DANN_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
    } else {
        const char *stage = "write";
        int e = write_body(f, hd, text, m, params, state, m1, m2, &h, buf);
        if (!e && fflush(f) != 0) e = errno, stage = "flush";
        if (!e && fsync(fileno(f)) != 0) e = errno, stage = "fsync";
        if (fclose(f) != 0 && !e) e = errno, stage = "close";
        if (!e && rename(tmp, path) != 0) e = errno, stage = "rename";
        if (e) {
            remove(tmp);
            s = dann_fail(err, DANN_ERR_IO, "%s: %s of %s failed: %s (checkpoint not saved)",
                          path, stage, tmp, strerror(e));
        }
    }
    free(buf);
    free(tmp);
    free(text);
    if (s == DANN_OK) sync_dir(path);
    return s;
}

/* ---- reading ---- */

/* Opens path, checks magic and version and decodes the header into h; on success *f_out is
 * open just past the header, *size holds the file size and hd the raw header bytes. */
static dann_status open_header(const char *path, FILE **f_out, uint64_t *size, unsigned char *hd,
                               ckpt_info *h, dann_error *err) {
    *f_out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return dann_fail(err, DANN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return dann_fail(err, DANN_ERR_IO, "%s: not a regular file", path);
    }
    *size = (uint64_t)st.st_size;
    size_t got = fread(hd, 1, CKPT_HEADER_SIZE, f);
    dann_status s;
    if (got < CKPT_HEADER_SIZE && ferror(f))
        s = dann_fail(err, DANN_ERR_IO, "%s: read error: %s", path, strerror(errno));
    else if (got == 0)
        s = dann_fail(err, DANN_ERR_FORMAT, "%s: empty file, not a dann checkpoint", path);
    else if (memcmp(hd, CKPT_MAGIC, got < 8 ? got : 8) != 0)
        s = dann_fail(err, DANN_ERR_FORMAT, "%s: not a dann checkpoint (bad magic)", path);
    else if (got >= 12 && (get_u32(hd + OFF_VERSION) < 1 || get_u32(hd + OFF_VERSION) > CKPT_VERSION))
        s = dann_fail(err, DANN_ERR_FORMAT,
                      "%s: unsupported checkpoint version %u (this build reads versions 1 to %d)",
                      path, get_u32(hd + OFF_VERSION), CKPT_VERSION);
    else if (got < CKPT_HEADER_SIZE)
        s = dann_fail(err, DANN_ERR_FORMAT,
                      "%s: truncated (expected at least %d bytes of header, file has %zu)", path,
                      CKPT_HEADER_SIZE, got);
    else
        s = decode_header(h, hd, path, err);
    if (s != DANN_OK) {
        fclose(f);
        return s;
    }
    *f_out = f;
    return DANN_OK;
}

/* Reads and checks the text block that follows the header (version 2) into text (text_len + 1
 * bytes): its checksum, its lines, the leading net= line. *net and *kv point into text. */
static dann_status read_text(FILE *f, uint64_t size, const ckpt_info *h, char *text,
                             const char **net, const char **kv, uint32_t *file_crc,
                             const char *path, dann_error *err) {
    *kv = "";
    if (h->version == 1) {
        // version 1 held the one architecture of its time
        if (strcmp(h->arch, "py3"))
            return dann_fail(err, DANN_ERR_FORMAT, "%s: unknown architecture '%s'", path, h->arch);
        *net = "py3";
        return DANN_OK;
    }
    if (size < CKPT_HEADER_SIZE + (uint64_t)h->text_len || fread(text, 1, h->text_len, f) != h->text_len)
        return dann_fail(err, ferror(f) ? DANN_ERR_IO : DANN_ERR_FORMAT,
                         "%s: truncated in the text block (expected %u bytes)", path, h->text_len);
    text[h->text_len] = '\0';
    if (file_crc) *file_crc = crc_update(*file_crc, (const unsigned char *)text, h->text_len);
    uint32_t tc = crc_update(crc_init(), (const unsigned char *)text, h->text_len);
    if (tc != h->text_crc)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: text block checksum mismatch (stored %08x, "
                         "computed %08x): the file is corrupt", path, h->text_crc, tc);
    if (!text_ok(text, h->text_len) || strncmp(text, "net=", 4))
        return dann_fail(err, DANN_ERR_FORMAT, "%s: malformed text block (expected 'net=' and "
                         "key=value lines)", path);
    char *nl = strchr(text, '\n');
    *nl = '\0';
    *net = text + 4;
    *kv = nl + 1;
    if (strlen(*net) >= CKPT_NET_MAX)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: network description longer than %d bytes",
                         path, CKPT_NET_MAX - 1);
    if (strlen(*kv) >= CKPT_KV_MAX)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: metadata longer than %d bytes", path,
                         CKPT_KV_MAX - 1);
    return DANN_OK;
}

dann_status ckpt_peek(const char *path, ckpt_info *info, dann_error *err) {
    FILE *f;
    uint64_t size;
    unsigned char hd[CKPT_HEADER_SIZE];
    dann_status s = open_header(path, &f, &size, hd, info, err);
    if (s != DANN_OK) return s;
    char *text = dann_calloc((size_t)info->text_len + 1, 1, err);
    const char *net, *kv;
    if (!text) s = DANN_ERR_NOMEM;
    else if (!(s = read_text(f, size, info, text, &net, &kv, NULL, path, err))) {
        snprintf(info->net, sizeof info->net, "%s", net);
        snprintf(info->meta.kv, sizeof info->meta.kv, "%s", kv);
    }
    free(text);
    fclose(f);
    return s;
}

typedef struct {
    FILE *f;
    uint32_t crc;
    unsigned char *buf;
} reader;

/* Reads n bytes into r->buf (n <= IO_CHUNK) and checksums them; 0, or -1 on a short read. */
static int r_chunk(reader *r, size_t n) {
    if (fread(r->buf, 1, n, r->f) != n) return -1;
    r->crc = crc_update(r->crc, r->buf, n);
    return 0;
}

/* Reads n floats into x (NULL: read and checksum only); 0, or -1 on a short read. */
static int r_floats(reader *r, float *x, uint64_t n) {
    while (n > 0) {
        size_t k = n > IO_CHUNK / 4 ? IO_CHUNK / 4 : (size_t)n;
        if (r_chunk(r, 4 * k)) return -1;
        if (x) {
            for (size_t i = 0; i < k; i++) x[i] = get_f32(r->buf + 4 * i);
            x += k;
        }
        n -= k;
    }
    return 0;
}

/* A fresh trainer for m with the stored configuration, step count and RNG. */
static dann_status make_trainer(dann_trainer **t_out, dann_model *m, const ckpt_info *h,
                                const char *path, dann_error *err) {
    dann_error sub;
    if (dann_trainer_new(t_out, m, &h->cfg, h->meta.seed, &sub) != DANN_OK)
        return dann_fail(err, sub.status, "%s: stored training configuration rejected: %s",
                         path, sub.msg);
    dann_trainer_set_steps(*t_out, (int64_t)h->steps);
    memcpy(dann_trainer_rng(*t_out), h->trainer_rng, sizeof h->trainer_rng);
    return DANN_OK;
}

/* Checks the header against the freshly created model m. */
static dann_status check_layout(const ckpt_info *h, const dann_model *m, uint64_t size,
                                const char *path, dann_error *err) {
    size_t n_params, n_state;
    dann_model_params((dann_model *)m, &n_params);
    dann_model_state((dann_model *)m, &n_state);
    uint32_t fp = ckpt_fingerprint(m), n_counts = bn_counters(m, NULL);
    if (fp != h->fingerprint)
        return dann_fail(err, DANN_ERR_FORMAT,
                         "%s: tensor layout differs from its network '%s' "
                         "(fingerprint %08x, expected %08x)", path, h->arch, h->fingerprint, fp);
    if (h->n_params != n_params || h->n_state != n_state || h->n_bn_counts != n_counts)
        return dann_fail(err, DANN_ERR_FORMAT,
                         "%s: sizes do not match architecture '%s' (file: %llu parameters, %llu "
                         "state, %u counters; architecture: %zu, %zu, %u)", path, h->arch,
                         (unsigned long long)h->n_params, (unsigned long long)h->n_state,
                         h->n_bn_counts, n_params, n_state, n_counts);
    if (size < h->file_size)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: truncated (expected %llu bytes, file has %llu)",
                         path, (unsigned long long)h->file_size, (unsigned long long)size);
    if (size > h->file_size)
        return dann_fail(err, DANN_ERR_FORMAT,
                         "%s: %llu unexpected bytes after the end (expected %llu bytes)", path,
                         (unsigned long long)(size - h->file_size),
                         (unsigned long long)h->file_size);
    return DANN_OK;
}

dann_status ckpt_load(const char *path, int max_batch, dann_model **m_out, dann_trainer **t_out,
                      ckpt_meta *meta, dann_error *err) {
    DANN_ASSERT(path && m_out);
    *m_out = NULL;
    if (t_out) *t_out = NULL;
    FILE *f;
    uint64_t size;
    unsigned char hd[CKPT_HEADER_SIZE];
    ckpt_info h;
    dann_status s = open_header(path, &f, &size, hd, &h, err);
    if (s != DANN_OK) return s;
    dann_model *m = NULL;
    dann_trainer *t = NULL;
    reader r = {.f = f, .crc = crc_update(crc_init(), hd, CKPT_HEADER_SIZE)};
    dann_error sub;
    float *params, *state, *m1 = NULL, *m2 = NULL;
    char *text = NULL;
    const char *net = NULL, *kv = "";
    int idx[MODEL_MAX_TENSORS];
    unsigned char c[4];
    if (t_out && !h.has_trainer) {
        s = dann_fail(err, DANN_ERR_FORMAT,
                      "%s: holds weights only (no optimizer state), cannot resume training", path);
        goto done;
    }
    if (!(text = dann_calloc((size_t)h.text_len + 1, 1, &sub))) {
        s = dann_fail(err, DANN_ERR_NOMEM, "%s: %s", path, sub.msg);
        goto done;
    }
    if ((s = read_text(f, size, &h, text, &net, &kv, &r.crc, path, err))) goto done;
    if (max_batch <= 0)
        max_batch = h.meta.batch > 0 && h.meta.batch <= 65536 ? (int)h.meta.batch : 128;
    if (dann_model_new(&m, net, h.meta.seed, max_batch, &sub) != DANN_OK) {
        s = dann_fail(err, sub.status == DANN_ERR_NOMEM ? DANN_ERR_NOMEM : DANN_ERR_FORMAT,
                      "%s: stored network: %s", path, sub.msg);
        goto done;
    }
    if (strcmp(h.arch, dann_model_arch(m))) {
        s = dann_fail(err, DANN_ERR_FORMAT, "%s: architecture field '%s' does not match its "
                      "network ('%s')", path, h.arch, dann_model_arch(m));
        goto done;
    }
    if ((s = check_layout(&h, m, size, path, err)) != DANN_OK) goto done;
    if (t_out) {
        if ((s = make_trainer(&t, m, &h, path, err)) != DANN_OK) goto done;
        m1 = dann_trainer_moments(t, &m2);
        DANN_ASSERT(m1 != NULL && (m2 != NULL) == h.has_moment2);
    }
    if (!(r.buf = dann_calloc(IO_CHUNK, 1, &sub))) {
        s = dann_fail(err, DANN_ERR_NOMEM, "%s: %s", path, sub.msg);
        goto done;
    }
    params = dann_model_params(m, NULL);
    state = dann_model_state(m, NULL);
    bn_counters(m, idx);
    if (r_floats(&r, params, h.n_params) || r_floats(&r, state, h.n_state) ||
        r_chunk(&r, 8 * (size_t)h.n_bn_counts)) goto short_read;
    for (uint32_t i = 0; i < h.n_bn_counts; i++) {
        uint64_t v = get_u64(r.buf + 8 * i);
        if (v > (uint64_t)INT64_MAX) {
            s = dann_fail(err, DANN_ERR_FORMAT, "%s: BatchNorm counter out of range", path);
            goto done;
        }
        dann_model_set_bn_count(m, idx[i], (int64_t)v);
    }
    if ((h.has_trainer && r_floats(&r, m1, h.n_params)) ||
        (h.has_moment2 && r_floats(&r, m2, h.n_params)) || fread(c, 1, 4, f) != 4)
        goto short_read;
    if (get_u32(c) != r.crc) {
        s = dann_fail(err, DANN_ERR_FORMAT,
                      "%s: checksum mismatch (stored %08x, computed %08x): the file is corrupt",
                      path, get_u32(c), r.crc);
        goto done;
    }
    if (meta) {
        *meta = h.meta;
        snprintf(meta->kv, sizeof meta->kv, "%s", kv);
    }
    goto done;
short_read:
    s = dann_fail(err, ferror(f) ? DANN_ERR_IO : DANN_ERR_FORMAT,
                  "%s: %s while reading the payloads (expected %llu bytes)", path,
                  ferror(f) ? "read error" : "truncated", (unsigned long long)h.file_size);
done:
    free(r.buf);
    free(text);
    fclose(f);
    if (s != DANN_OK) {
        dann_trainer_free(t);
        dann_model_free(m);
        return s;
    }
    *m_out = m;
    if (t_out) *t_out = t;
    return DANN_OK;
}
