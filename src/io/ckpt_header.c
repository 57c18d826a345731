/* ckpt_header.c - the checkpoint's header and text block (docs/CHECKPOINT.md): encoding and
 * decoding the 320-byte header with every field validated, the key/value text, the
 * architecture fingerprint, and ckpt_peek. checkpoint.c holds the writer and the payload reader.
 *
 * Every field is encoded with explicit byte shifts into little-endian order and decoded the same
 * way; floating-point values travel as their IEEE-754 bit patterns (copied with memcpy, never
 * through a pointer cast), so the bytes do not depend on the host.
 *
 * Version 2 adds a text block after the header (its length in the header): "key=value" lines,
 * the first "net=<canonical network description>", then the caller's own (ckpt_meta.kv). A
 * version-1 file (no text block) names its architecture in the header; it can only be py3. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "io/ckpt_impl.h"
#include "model/model.h"

uint32_t ckpt_crc_init(void) { return (uint32_t)crc32(0L, Z_NULL, 0); }

/* zlib's crc32 takes a uInt length: feed large spans in pieces. */
uint32_t ckpt_crc_update(uint32_t crc, const unsigned char *p, size_t n) {
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
    uint32_t crc = ckpt_crc_init();
    dann_model_shape(m, &dims[0], &dims[1], &dims[2], &dims[3]);
    for (int i = 0; i < 4; i++) {
        put_u32(b, (uint32_t)dims[i]);
        crc = ckpt_crc_update(crc, b, 4);
    }
    int n = dann_model_tensors(m, 0, NULL);
    for (int i = 0; i < n; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        crc = ckpt_crc_update(crc, (const unsigned char *)ti.name, strlen(ti.name) + 1);
        put_u32(b, (uint32_t)ti.kind);
        crc = ckpt_crc_update(crc, b, 4);
        put_u32(b, (uint32_t)ti.ndim);
        crc = ckpt_crc_update(crc, b, 4);
        for (int d = 0; d < ti.ndim; d++) {
            put_u64(b, (uint64_t)ti.shape[d]);
            crc = ckpt_crc_update(crc, b, 8);
        }
    }
    return crc;
}

/* The model's BatchNorm counters (kind 2 tensors), in table order: their count, and their
 * tensor indices in idx (MODEL_MAX_TENSORS entries) when idx is not NULL. */
uint32_t ckpt_bn_counters(const dann_model *m, int *idx) {
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
int ckpt_text_ok(const char *t, size_t n) {
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
void ckpt_encode_header(unsigned char *hd, const ckpt_info *h) {
    memset(hd, 0, CKPT_HEADER_SIZE);
    memcpy(hd + OFF_MAGIC, CKPT_MAGIC_BYTES, sizeof CKPT_MAGIC_BYTES);
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
    put_u32(hd + OFF_HEADER_CRC, ckpt_crc_update(ckpt_crc_init(), hd, OFF_HEADER_CRC));
}

/* The ranges of the configuration fields (ckpt_impl.h): a file with valid checksums may still
 * have been written by hand, and an Adam beta of 1 divides by zero in the bias correction, a
 * negative eps or weight decay turns the update around, a non-finite value poisons every
 * parameter. */
const char *ckpt_config_bad(const dann_train_config *c) {
    struct { const char *name; double v, lo, hi; int lo_open; } f[] = {
        {"lr", c->lr, 0, 1e6, 1},
        {"beta1", c->beta1, 0, 1, 0},
        {"beta2", c->beta2, 0, 1, 0},
        {"eps", c->eps, 0, 1, 1},
        {"momentum", c->momentum, 0, 1, 0},
        {"weight_decay", c->weight_decay, 0, 1e6, 0},
        {"lr_alpha", c->lr_alpha, 0, 1e6, 0},
        {"lr_beta", c->lr_beta, 0, 1e6, 0},
        {"gamma", c->gamma, -1e6, 1e6, 0},
        {"lambda_max", c->lambda_max, 0, 1e6, 0},
    };
    for (size_t k = 0; k < sizeof f / sizeof *f; k++) {
        // the upper bounds of beta1, beta2 and momentum are open (a moment that never decays)
        const int hi_open = k >= 1 && k <= 4;
        const double v = f[k].v;
        if (!isfinite(v) || v < f[k].lo || (f[k].lo_open && v == f[k].lo) || v > f[k].hi ||
            (hi_open && v == f[k].hi))
            return f[k].name;
    }
    return NULL;
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
    uint32_t crc = ckpt_crc_update(ckpt_crc_init(), hd, OFF_HEADER_CRC);
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
        const char *bad = ckpt_config_bad(c);
        if (bad)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: training configuration field %s out of "
                             "range", path, bad);
        h->steps = get_u64(hd + OFF_STEPS);
        if (h->steps > (uint64_t)INT64_MAX)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: step count out of range", path);
        uint64_t any = 0;
        for (int i = 0; i < 4; i++) any |= h->trainer_rng[i] = get_u64(hd + OFF_TRAINER_RNG + 8 * i);
        if (!any)  // xoshiro256** never leaves the all-zero state: every dropout mask would be equal
            return dann_fail(err, DANN_ERR_FORMAT, "%s: trainer_rng is all zero (not a state "
                             "xoshiro256** can be in)", path);
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

/* Opens path, checks magic and version and decodes the header into h; on success *f_out is
 * open just past the header, *size holds the file size and hd the raw header bytes. */
dann_status ckpt_open_header(const char *path, FILE **f_out, uint64_t *size, unsigned char *hd,
                               ckpt_info *h, dann_error *err) {
    *f_out = NULL;
    FILE *f;
    dann_status os = file_fopen_regular(path, &f, size, err);
    if (os) return os;
    size_t got = fread(hd, 1, CKPT_HEADER_SIZE, f);
    dann_status s;
    if (got < CKPT_HEADER_SIZE && ferror(f))
        s = dann_fail(err, DANN_ERR_IO, "%s: read error: %s", path, strerror(errno));
    else if (got == 0)
        s = dann_fail(err, DANN_ERR_FORMAT, "%s: empty file, not a dann checkpoint", path);
    else if (memcmp(hd, CKPT_MAGIC_BYTES, got < 8 ? got : 8) != 0)
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
dann_status ckpt_read_text(FILE *f, uint64_t size, const ckpt_info *h, char *text,
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
    if (file_crc) *file_crc = ckpt_crc_update(*file_crc, (const unsigned char *)text, h->text_len);
    uint32_t tc = ckpt_crc_update(ckpt_crc_init(), (const unsigned char *)text, h->text_len);
    if (tc != h->text_crc)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: text block checksum mismatch (stored %08x, "
                         "computed %08x): the file is corrupt", path, h->text_crc, tc);
    if (!ckpt_text_ok(text, h->text_len) || strncmp(text, "net=", 4))
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
    dann_status s = ckpt_open_header(path, &f, &size, hd, info, err);
    if (s != DANN_OK) return s;
    char *text = dann_calloc((size_t)info->text_len + 1, 1, err);
    const char *net, *kv;
    if (!text) s = DANN_ERR_NOMEM;
    else if (!(s = ckpt_read_text(f, size, info, text, &net, &kv, NULL, path, err))) {
        snprintf(info->net, sizeof info->net, "%s", net);
        snprintf(info->meta.kv, sizeof info->meta.kv, "%s", kv);
    }
    free(text);
    fclose(f);
    return s;
}
