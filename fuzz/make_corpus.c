/* make_corpus.c - writes the checkpoint and safetensors seeds of the fuzz targets (run by
 * fuzz/make_corpus.sh, which builds it against build/libdann.a):
 *   OUT/ckpt/      checkpoints of small networks: weights only, with an Adam trainer, with an
 *                  SGD trainer, a vector network; each prefixed by fuzz_ckpt.c's flag byte
 *                  (1: recompute the CRCs after mutation; one seed with 0 as well);
 *   OUT/safetensors/  the export of fuzz_safetensors.c's network, and a file with I64/U8/I32
 *                  tensors, a 0-d tensor and metadata. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dann.h"
#include "io/checkpoint.h"
#include "io/interchange.h"
#include "io/safetensors.h"

#define ST_NET "in 1x6x6; features: conv(2,3) bn maxpool(2) relu; class: fc(4) bn relu fc(3); domain: fc(2)"

static void die(const char *what, const dann_error *err) {
    fprintf(stderr, "make_corpus: %s: %s\n", what, err->msg);
    exit(1);
}

/* Saves a checkpoint to a temporary path and rewrites it to dst with the flag byte first. */
static void ckpt_seed(const char *dir, const char *name, int flag, const dann_model *m,
                      const dann_trainer *t, const ckpt_meta *meta) {
    char tmp[1024], dst[1024];
    dann_error err;
    snprintf(tmp, sizeof tmp, "%s/%s.tmpckpt", dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    if (ckpt_save(tmp, m, t, meta, &err)) die(name, &err);
    FILE *in = fopen(tmp, "rb"), *out = fopen(dst, "wb");
    if (!in || !out) exit(1);
    fputc(flag, out);
    int ch;
    while ((ch = fgetc(in)) != EOF) fputc(ch, out);
    fclose(in);
    if (fclose(out)) exit(1);
    remove(tmp);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus OUT_DIR (holding ckpt/ and safetensors/)\n");
        return 2;
    }
    char dir[1024];
    dann_error err;
    dann_model *m, *v;
    dann_trainer *adam, *sgd;
    dann_train_config cfg;
    static ckpt_meta meta;

    snprintf(dir, sizeof dir, "%s/ckpt", argv[1]);
    if (dann_model_new(&m, ST_NET, 7, 4, &err)) die("model", &err);
    if (dann_model_new(&v, "in 5; features: fc(3) sigmoid; class: fc(2); domain: fc(2)", 7, 4, &err))
        die("vector model", &err);
    dann_train_config_preset(&cfg, "py3", &err);
    if (dann_trainer_new(&adam, m, &cfg, 3, &err)) die("adam", &err);
    dann_train_config_preset(&cfg, "paper", &err);
    if (dann_trainer_new(&sgd, v, &cfg, 3, &err)) die("sgd", &err);
    ckpt_seed(dir, "weights", 1, m, NULL, NULL);
    ckpt_seed(dir, "weights-raw", 0, m, NULL, NULL);
    snprintf(meta.preset, sizeof meta.preset, "py3");
    meta.epoch = 1, meta.step_in_epoch = 2, meta.epochs = 3, meta.batch = 4, meta.seed = 5;
    meta.best_epoch = 1, meta.best_val_acc = 0.5f;
    snprintf(meta.kv, sizeof meta.kv, "classes=a,b,c\nmean=0.5\n");
    ckpt_seed(dir, "adam", 1, m, adam, &meta);
    snprintf(meta.preset, sizeof meta.preset, "paper");
    ckpt_seed(dir, "sgd-vector", 1, v, sgd, &meta);

    snprintf(dir, sizeof dir, "%s/safetensors/model.safetensors", argv[1]);
    const char *extra[2] = {"note", "seed"};
    if (interchange_export(m, dir, extra, 1, &err)) die("export", &err);
    st_writer w;
    st_writer_init(&w);
    const int64_t i64[3] = {1, -2, 3}, s3[1] = {3}, s22[2] = {2, 2};
    const uint8_t u8[4] = {1, 2, 3, 4};
    const int32_t i32[4] = {-1, 0, 1, 2};
    const float f0 = 1.5f;
    if (st_writer_add(&w, "a.i64", ST_I64, 1, s3, i64, &err) ||
        st_writer_add(&w, "b.u8", ST_U8, 2, s22, u8, &err) ||
        st_writer_add(&w, "c.i32", ST_I32, 2, s22, i32, &err) ||
        st_writer_add(&w, "d.scalar", ST_F32, 0, NULL, &f0, &err) ||
        st_writer_meta(&w, "format", "pt", &err) || st_writer_meta(&w, "k\"q", "v\\n", &err))
        die("writer", &err);
    snprintf(dir, sizeof dir, "%s/safetensors/dtypes.safetensors", argv[1]);
    if (st_write(&w, dir, &err)) die("dtypes", &err);
    st_writer_free(&w);
    dann_trainer_free(adam);
    dann_trainer_free(sgd);
    dann_model_free(m);
    dann_model_free(v);
    return 0;
}
