/* fuzz_labels.c - libFuzzer target: MNIST-M's label-file parser (labels_parse, then a lookup
 * of every name it returns) on arbitrary bytes, and the same bytes as the label file of an
 * unpacked MNIST-M folder holding two small images (dataset_load("mnistm:DIR"), which matches
 * the names to files and decodes them). Seeds: fuzz/corpus/labels/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "data/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A 2x2 RGB PNG (written once into the folder as 00000000.png and 00000001.png). */
static const uint8_t PNG_2X2[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xfd,
    0xd4, 0x9a, 0x73, 0x00, 0x00, 0x00, 0x11, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8,
    0xcf, 0xc0, 0xc0, 0xf0, 0x1f, 0x8c, 0x80, 0x18, 0x00, 0x1d, 0xf0, 0x03, 0xfd, 0xae, 0x3f,
    0xe2, 0x38, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static void put(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

static char g_dir[64];

/* The folder goes at exit (libFuzzer and the test suite both run atexit handlers). */
static void cleanup(void) {
    char p[128];
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/mnist_m_train/%08d.png", g_dir, k);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/mnist_m_train", g_dir);
    rmdir(p);
    rmdir(g_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    label_list L;
    dann_error err;
    if (labels_parse(&L, text, size, "fuzz_labels.txt", &err) == DANN_OK)
        for (int i = 0; i < L.n; i++)
            if (labels_find(&L, L.names[i]) != i) abort();  // every listed name is found
    labels_free(&L);

    char *dir = g_dir, p[128], spec[80];
    if (!dir[0]) {
        snprintf(dir, sizeof g_dir, "/tmp/fuzz-labels-%d", (int)getpid());
        snprintf(p, sizeof p, "%s/mnist_m_train", dir);
        mkdir(dir, 0700);
        mkdir(p, 0700);
        for (int k = 0; k < 2; k++) {
            snprintf(p, sizeof p, "%s/mnist_m_train/%08d.png", dir, k);
            put(p, PNG_2X2, sizeof PNG_2X2);
        }
        atexit(cleanup);
    }
    snprintf(p, sizeof p, "%s/mnist_m_train_labels.txt", dir);
    put(p, data, size);
    snprintf(spec, sizeof spec, "mnistm:%s", dir);
    dataset ds;
    if (dataset_load(&ds, spec, DATA_TRAIN, 4, 4, &err) == DANN_OK) dataset_free(&ds);
    unlink(p);
    return 0;
}
