/* checkpoint.c - writer and payload reader of the checkpoint format of docs/CHECKPOINT.md
 * (the header, the text block and ckpt_peek are in ckpt_header.c).
 *
 * The 320-byte header is built in memory; the payloads are streamed through a 64 KiB buffer
 * while a running CRC-32 (zlib's) covers every byte; the file ends with that CRC.
 *
 * Load order, chosen so each error names the actual problem: open -> magic -> version -> header
 * size -> header CRC -> field ranges -> text block -> network compiled -> model created ->
 * tensor fingerprint and sizes -> file length (truncated / trailing bytes) -> payloads -> file
 * CRC. Payloads are
 * decoded straight into the new model's (and trainer's) buffers; on any failure both are freed,
 * so a caller never sees a half-restored model. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/ckpt_impl.h"
#include "model/model.h"

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
    w->crc = ckpt_crc_update(w->crc, w->buf, w->n);
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
    writer w = {.f = f, .crc = ckpt_crc_init(), .buf = buf};
    int idx[MODEL_MAX_TENSORS];
    memcpy(w.buf, hd, CKPT_HEADER_SIZE);
    w.n = CKPT_HEADER_SIZE;
    for (uint32_t i = 0; i < h->text_len && !w.failed; i++) {
        if (w.n == IO_CHUNK) w_flush(&w);
        w.buf[w.n++] = (unsigned char)text[i];
    }
    w_floats(&w, params, h->n_params);
    w_floats(&w, state, h->n_state);
    ckpt_bn_counters(m, idx);
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

/* Describes in msg the first value of the model's buffers that no training can produce - a NaN
 * or an infinity anywhere, a negative BatchNorm running variance or Adam second moment - and
 * returns 1; 0 when every value is in range. params/state/m1/m2 are laid out as m's buffers
 * (m1, m2 may be NULL). Such a file is refused by the reader (and never written), because a
 * model that holds one predicts NaN or nothing useful without a word. */
static int values_bad(const dann_model *m, const float *params, const float *state,
                      const float *m1, const float *m2, char *msg, size_t cap) {
    const int nt = dann_model_tensors(m, 0, NULL);
    for (int i = 0; i < nt; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (ti.kind == TENSOR_BN_COUNT) continue;
        const size_t nl = strlen(ti.name), vl = strlen("running_var");
        const int var = ti.kind == 1 && nl >= vl && !strcmp(ti.name + nl - vl, "running_var");
        const float *bufs[3] = {ti.kind == 0 ? params : state, ti.kind == 0 ? m1 : NULL,
                                ti.kind == 0 ? m2 : NULL};
        static const char *const what[3] = {"", "the optimizer's first moment of ",
                                            "Adam's second moment of "};
        for (int b = 0; b < 3; b++) {
            if (!bufs[b]) continue;
            const float *x = bufs[b] + ti.offset;
            const int nonneg = (b == 0 && var) || b == 2;
            for (size_t k = 0; k < ti.numel; k++)
                if (!isfinite(x[k]) || (nonneg && x[k] < 0)) {
                    snprintf(msg, cap, "%stensor '%s' holds %s (%g) at element %zu", what[b],
                             ti.name, isfinite(x[k]) ? "a negative value" : "a non-finite value",
                             (double)x[k], k);
                    return 1;
                }
        }
    }
    return 0;
}

int ckpt_values_bad(const dann_model *m, const dann_trainer *t, char *msg, size_t cap) {
    float *m2 = NULL;
    const float *m1 = t ? dann_trainer_moments((dann_trainer *)t, &m2) : NULL;
    return values_bad(m, dann_model_params((dann_model *)m, NULL),
                      dann_model_state((dann_model *)m, NULL), m1, m2, msg, cap);
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
    if (memchr(h.meta.kv, '\0', CKPT_KV_MAX) == NULL || !ckpt_text_ok(h.meta.kv, strlen(h.meta.kv)))
        return dann_fail(err, DANN_ERR_ARG, "%s: malformed checkpoint metadata lines", path);
    char *text = dann_calloc(CKPT_TEXT_MAX + 1, 1, err);
    if (!text) return DANN_ERR_NOMEM;
    int tl = snprintf(text, CKPT_TEXT_MAX + 1, "net=%s\n%s", dann_model_description(m), h.meta.kv);
    if (tl < 0 || tl > CKPT_TEXT_MAX) {
        free(text);
        return dann_fail(err, DANN_ERR_ARG, "%s: checkpoint metadata too long", path);
    }
    h.text_len = (uint32_t)tl;
    h.text_crc = ckpt_crc_update(ckpt_crc_init(), (const unsigned char *)text, (size_t)tl);
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
    h.n_bn_counts = ckpt_bn_counters(m, NULL);
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
    /* Never write what the reader refuses: a file that cannot be loaded is no checkpoint. */
    char why[256];
    const char *bad_cfg = t ? ckpt_config_bad(&h.cfg) : NULL;
    if (bad_cfg || values_bad(m, params, state, m1, m2, why, sizeof why)) {
        free(text);
        if (bad_cfg)
            return dann_fail(err, DANN_ERR_ARG, "%s: not saved: training configuration field %s "
                             "out of range", path, bad_cfg);
        return dann_fail(err, DANN_ERR_NUMERIC, "%s: not saved: %s", path, why);
    }
    unsigned char hd[CKPT_HEADER_SIZE];
    ckpt_encode_header(hd, &h);

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
typedef struct {
    FILE *f;
    uint32_t crc;
    unsigned char *buf;
} reader;

/* Reads n bytes into r->buf (n <= IO_CHUNK) and checksums them; 0, or -1 on a short read. */
static int r_chunk(reader *r, size_t n) {
    if (fread(r->buf, 1, n, r->f) != n) return -1;
    r->crc = ckpt_crc_update(r->crc, r->buf, n);
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
    uint32_t fp = ckpt_fingerprint(m), n_counts = ckpt_bn_counters(m, NULL);
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
    dann_status s = ckpt_open_header(path, &f, &size, hd, &h, err);
    if (s != DANN_OK) return s;
    dann_model *m = NULL;
    dann_trainer *t = NULL;
    reader r = {.f = f, .crc = ckpt_crc_update(ckpt_crc_init(), hd, CKPT_HEADER_SIZE)};
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
    if ((s = ckpt_read_text(f, size, &h, text, &net, &kv, &r.crc, path, err))) goto done;
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
    ckpt_bn_counters(m, idx);
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
    /* intact, but perhaps written by hand: the values must be ones training can produce */
    char why[256];
    if (values_bad(m, params, state, m1, m2, why, sizeof why)) {
        s = dann_fail(err, DANN_ERR_FORMAT, "%s: %s", path, why);
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
