/* demo_data.c - the sample `dann demo` trains on, embedded in the binary with the assembler's
 * .incbin, so the demo runs from any directory with nothing to download.
 *
 * The files are those of data/demo/, made by tools/make_demo_data.py (MNIST IDX gz and a small
 * MNIST-M tar.gz); the paths below are relative to the repository root, where make runs the
 * compiler. The Makefile lists them as prerequisites of this object (the compiler's -MMD does
 * not see .incbin). Each blob gets a start and an end symbol; demo_files[] lists them with the
 * file name they are written back to. */
#include <stddef.h>
#include "cli/demo_data.h"

#define DEMO_BLOB(sym, path)                                                        \
    __asm__(".section .rodata\n"                                                    \
            ".balign 16\n"                                                          \
            ".type " #sym ", @object\n"                                             \
            #sym ":\n"                                                              \
            ".incbin \"" path "\"\n"                                                \
            #sym "_end:\n"                                                          \
            ".byte 0\n"                                                             \
            ".previous\n");                                                         \
    extern const unsigned char sym[], sym##_end[]

DEMO_BLOB(demo_tr_img, "data/demo/mnist/train-images-idx3-ubyte.gz");
DEMO_BLOB(demo_tr_lab, "data/demo/mnist/train-labels-idx1-ubyte.gz");
DEMO_BLOB(demo_te_img, "data/demo/mnist/t10k-images-idx3-ubyte.gz");
DEMO_BLOB(demo_te_lab, "data/demo/mnist/t10k-labels-idx1-ubyte.gz");
DEMO_BLOB(demo_mnistm, "data/demo/mnist_m.tar.gz");

const demo_file demo_files[] = {
    {"mnist/train-images-idx3-ubyte.gz", demo_tr_img, demo_tr_img_end},
    {"mnist/train-labels-idx1-ubyte.gz", demo_tr_lab, demo_tr_lab_end},
    {"mnist/t10k-images-idx3-ubyte.gz", demo_te_img, demo_te_img_end},
    {"mnist/t10k-labels-idx1-ubyte.gz", demo_te_lab, demo_te_lab_end},
    {"mnist_m.tar.gz", demo_mnistm, demo_mnistm_end},
    {NULL, NULL, NULL},
};
