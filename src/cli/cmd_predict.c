/* cmd_predict.c - `dann predict`: the predicted label (and class name) and the class
 * probabilities of a checkpoint for individual PNG or JPEG files.
 *
 * Each image goes through the pipeline of `dann train` and `dann eval` (data.h): decoded to
 * 8-bit RGB or grey (image_decode; alpha dropped), resized to the model's input with PIL's
 * bilinear filter (resize_bilinear_pil, as torchvision's Resize does; a non-square image is
 * stretched), turned into PIL's grey (L) for a grey network or repeated over 3 channels for a
 * colour one, then ToTensor + Normalize in float32: v = ((float)pix / 255 - mean[c]) / std[c]
 * with the normalisation the checkpoint stores for the chosen domain (--domain, default
 * target), so predict and eval give one image the same numbers. A checkpoint that stores none
 * (written by `dann import`, or before normalisation was stored) gets the reference's rule:
 * MNIST-M's 0.5/0.5 per channel for colour images, MNIST's 0.1307/0.3081 for grey ones.
 * --mean/--std override both. Every file is decoded before anything is printed, so an
 * unreadable file fails the command with no partial output. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/domains.h"
#include "cli/json_out.h"
#include "cli/predict_vec.h"
#include "cli/vecfit.h"
#include "data/data.h"
#include "io/checkpoint.h"

#define PREDICT_BATCH 64
#define PREDICT_MAX_BYTES (64u << 20)  /* larger files are not images this tool handles */

static void usage(FILE *f) {
    fprintf(f,
            "usage: dann predict --model CKPT [options] IMAGE ...\n"
            "       dann predict --model CKPT [--json] csv:FILE|svmlight:FILE ...\n"
            "\n"
            "Predicted label (and class name) and class probabilities for each PNG or JPEG image,\n"
            "or, for a checkpoint of a feature-vector network, for each example (line) of the\n"
            "csv:/svmlight: files (their options as in dann train --help; the files' labels are\n"
            "not used).\n"
            "\n"
            "  --model CKPT      checkpoint written by `dann train` or `dann import`\n"
            "  --json            print one JSON object: {\"model\", \"domain\", \"predictions\":\n"
            "                    [{\"file\", \"label\", \"class\", \"grey\", \"probs\"}, ...]}; an\n"
            "                    image whose outputs are not finite gets null there (exit 1)\n"
            "  --domain source|target   whose stored normalisation (default target)\n"
            "  --mean M[,M,M]    normalisation mean, one value or one per channel (R,G,B)\n"
            "  --std S[,S,S]     normalisation std, same form\n"
            "  --threads T       threads for the kernels (default 1)\n"
            "  --help            this text\n"
            "\n"
            "Pipeline (that of train and eval: torchvision's Resize + ToTensor + Normalize): the\n"
            "image is decoded (alpha dropped), resized to the model's input with PIL's bilinear\n"
            "filter (non-square images are stretched), made grey (PIL's L) for a grey network or\n"
            "repeated over 3 channels for a colour one, and each channel becomes\n"
            "(pixel/255 - mean) / std in float32, with the domain's normalisation stored in the\n"
            "checkpoint. A checkpoint that stores none: colour images use MNIST-M's 0.5/0.5,\n"
            "grey ones MNIST's 0.1307/0.3081. --mean/--std replace them.\n");
}

/* Parses "a" or "a,b,c" into v[3] (a single value fills all three). */
static int parse_triple(const char *s, double lo, float v[3]) {
    char buf[128];
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    double d[3];
    int n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n == 3 || args_parse_double(tok, lo, 1e6, &d[n])) return -1;
        n++;
    }
    if (n != 1 && n != 3) return -1;
    for (int c = 0; c < 3; c++) v[c] = (float)d[n == 1 ? 0 : c];
    return 0;
}

static dann_status read_all(const char *path, uint8_t **buf, size_t *len, dann_error *err) {
    *buf = NULL;
    FILE *f;
    dann_status st = file_fopen_regular(path, &f, NULL, err);
    if (st) return st;
    size_t cap = 1 << 16, n = 0, r;
    uint8_t *b = malloc(cap);
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap && cap < PREDICT_MAX_BYTES) {
            uint8_t *g = realloc(b, 2 * cap);
            if (!g) free(b);
            b = g;
            cap *= 2;
        } else if (n == cap) {
            break;
        }
    }
    int bad = !b ? 1 : ferror(f) ? 2 : n == cap ? 3 : 0;
    fclose(f);
    if (bad) {
        free(b);
        if (bad == 1) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory reading the file", path);
        if (bad == 2) return dann_fail(err, DANN_ERR_IO, "%s: read error", path);
        return dann_fail(err, DANN_ERR_FORMAT, "%s: larger than %u MiB, not an image this tool reads",
                         path, PREDICT_MAX_BYTES >> 20);
    }
    *buf = b;
    *len = n;
    return DANN_OK;
}

/* Decodes, resizes and normalises one file into x (C, H, W); *grey tells the image's kind. The
 * normalisation: mean_opt/std_opt when given, else the reference's rule by colour. */
static dann_status load_image(float *x, int C, int H, int W, const char *path, const float *mean_opt,
                              const float *std_opt, int *grey, dann_error *err) {
    static const float colour_mean[3] = {0.5f, 0.5f, 0.5f}, colour_std[3] = {0.5f, 0.5f, 0.5f};
    static const float grey_mean[3] = {0.1307f, 0.1307f, 0.1307f};
    static const float grey_std[3] = {0.3081f, 0.3081f, 0.3081f};
    uint8_t *buf, *pix = NULL, *small = NULL;
    size_t len = 0;
    int c, h, w;
    dann_status st = read_all(path, &buf, &len, err);
    if (st) return st;
    st = image_decode(buf, len, path, &pix, &c, &h, &w, err);
    free(buf);
    if (st) return st;
    if (!(small = malloc((size_t)c * H * W))) {
        free(pix);
        return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory resizing", path);
    }
    resize_bilinear_pil(small, H, W, pix, c, h, w);
    free(pix);
    *grey = c == 1;
    if (c == 3 && C == 1) {  /* a grey network: PIL's L of the resized image, as train does */
        dataset one = {.n = 1, .c = 3, .h = H, .w = W, .pix = small};
        dataset_to_grey(&one);
        c = 1;
    }
    const float *mean = mean_opt ? mean_opt : *grey ? grey_mean : colour_mean;
    const float *sd = std_opt ? std_opt : *grey ? grey_std : colour_std;
    const size_t plane = (size_t)H * W;
    for (int k = 0; k < C; k++) {
        const uint8_t *src = small + (c == 1 ? 0 : (size_t)k * plane);
        for (size_t i = 0; i < plane; i++) {
            float v = (float)src[i] / 255.0f;  // ToTensor, then Normalize: same float32 steps
            x[(size_t)k * plane + i] = (v - mean[k]) / sd[k];
        }
    }
    free(small);
    return DANN_OK;
}

int cmd_predict(int argc, char **argv) {
    const char *model_path = NULL, *mean_s = NULL, *std_s = NULL;
    static const char *const domains[] = {"source", "target", NULL};
    int json = 0, threads = 1, n = 0, domain = 1;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files) {
        fprintf(stderr, "dann predict: out of memory\n");
        return 1;
    }
    args_parser ap;
    args_init(&ap, "predict", argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--model")) args_str(&ap, &model_path);
        else if (args_is(&ap, "--mean")) args_str(&ap, &mean_s);
        else if (args_is(&ap, "--std")) args_str(&ap, &std_s);
        else if (args_is(&ap, "--domain")) args_choice(&ap, domains, &domain);
        else if (args_is(&ap, "--threads")) args_int(&ap, 1, 1024, &threads);
        else if (args_is(&ap, "--json")) args_flag(&ap, &json);
        else if (args_is(&ap, "--help") || args_is(&ap, "-h")) {
            usage(stdout);
            free(files);
            return 0;
        } else if (!ap.is_option) files[n++] = ap.cur;
        else args_unknown(&ap);
        if (ap.failed) {
            free(files);
            return 2;
        }
    }
    float mean[3], sd[3];
    int rc = 2;
    if (!model_path) args_usage("predict", "--model CKPT is required (dann predict --help)");
    else if (!n) args_usage("predict", "no image files given (dann predict --help)");
    else if (mean_s && parse_triple(mean_s, -1e6, mean))
        args_usage("predict", "--mean: '%s' is not one number or three comma-separated numbers", mean_s);
    else if (std_s && parse_triple(std_s, 1e-12, sd))
        args_usage("predict", "--std: '%s' is not one positive number or three comma-separated ones", std_s);
    else rc = 1;
    if (rc == 2) {
        free(files);
        return 2;
    }
    threads = args_threads("predict", threads);

    dann_error err = {0};
    dann_model *m = NULL;
    float *x = NULL, *logp = NULL;
    int *grey = NULL, C, H, W, NC, n_names = 0, stored = 0;
    char **names = NULL;
    static ckpt_info info;  /* 64 KiB of kv: not on the stack */
    if (ckpt_peek(model_path, &info, &err) ||
        ckpt_load(model_path, n < PREDICT_BATCH ? n : PREDICT_BATCH, &m, NULL, NULL, &err))
        goto done;
    if (dann_model_input_is_vector(m)) {
        dann_model_shape(m, &C, &H, &W, &NC);
        if (domain_kv_classes(info.meta.kv, &names, &n_names) && n_names != NC) {
            free(names);  /* not this model's: show the labels only */
            names = NULL;
        }
        rc = predict_vectors(m, model_path, files, n, json, names, &err);
        goto done;
    }
    if (vecfit_kinds("predict", 0, files, n, dann_model_description(m))) {
        rc = 2;
        goto done;
    }
    dann_model_shape(m, &C, &H, &W, &NC);
    /* the stored normalisation fills what --mean / --std do not give */
    float st_mean[3], st_std[3];
    if ((stored = domain_kv_norm(info.meta.kv, domains[domain], st_mean, st_std))) {
        if (!mean_s) memcpy(mean, st_mean, sizeof mean), mean_s = "stored";
        if (!std_s) memcpy(sd, st_std, sizeof sd), std_s = "stored";
    }
    if (domain_kv_classes(info.meta.kv, &names, &n_names) && n_names != NC) {
        free(names);  /* not this model's: show the labels only */
        names = NULL;
    }
    const size_t img = (size_t)C * H * W;
    x = dann_calloc((size_t)n * img, sizeof *x, &err);
    logp = dann_calloc((size_t)n * NC, sizeof *logp, &err);
    grey = dann_calloc((size_t)n, sizeof *grey, &err);
    if (!x || !logp || !grey) goto done;
    for (int i = 0; i < n; i++)
        if (load_image(x + (size_t)i * img, C, H, W, files[i], mean_s ? mean : NULL,
                       std_s ? sd : NULL, &grey[i], &err))
            goto done;
    dann_model_predict(m, x, n, logp);

    if (json) {
        printf("{\"model\": ");
        json_string(stdout, model_path);
        printf(", \"domain\": %s, \"predictions\": [", stored ? domain ? "\"target\"" : "\"source\"" : "null");
    }
    int not_finite = 0;  /* images whose outputs are NaN or infinite (huge weights) */
    const char *first_bad = NULL;
    for (int i = 0; i < n; i++) {
        const float *lp = logp + (size_t)i * NC;
        int best = 0, finite = 1;
        for (int k = 1; k < NC; k++)
            if (lp[k] > lp[best]) best = k;
        for (int k = 0; k < NC; k++) finite &= !isnan(lp[k]) && lp[k] != INFINITY;
        if (!finite && !not_finite++) first_bad = files[i];
        if (json) {
            /* JSON has no NaN: such an image gets a null label and null probabilities */
            printf("%s{\"file\": ", i ? ", " : "");
            json_string(stdout, files[i]);
            if (finite) {
                printf(", \"label\": %d, \"class\": ", best);
                if (names) json_string(stdout, names[best]);
                else printf("null");
            } else {
                printf(", \"label\": null, \"class\": null");
            }
            printf(", \"grey\": %s, \"probs\": [", grey[i] ? "true" : "false");
            for (int k = 0; k < NC; k++) {
                const double pr = exp((double)lp[k]);
                if (finite && isfinite(pr)) printf("%s%.9g", k ? ", " : "", pr);
                else printf("%snull", k ? ", " : "");
            }
            printf("]}");
        } else {
            printf("%s  label %d%s%s%s  p %.4f  probs", files[i], best, names ? " (" : "",
                   names ? names[best] : "", names ? ")" : "", exp((double)lp[best]));
            for (int k = 0; k < NC; k++) printf(" %.4f", exp((double)lp[k]));
            printf("\n");
        }
    }
    if (json) printf("]}\n");
    if (fflush(stdout) || ferror(stdout)) dann_fail(&err, DANN_ERR_IO, "stdout: write error");
    else if (not_finite)
        dann_fail(&err, DANN_ERR_NUMERIC, "%s%s: the model's outputs are not finite (NaN or "
                  "infinite; %d image%s): no prediction", first_bad, not_finite > 1 ? " and others" : "",
                  not_finite, not_finite > 1 ? "s" : "");
    else rc = 0;
done:
    if (rc == 1) args_fail("predict", &err);
    free(x);
    free(logp);
    free(grey);
    free(names);
    free(files);
    dann_model_free(m);
    return rc;
}
