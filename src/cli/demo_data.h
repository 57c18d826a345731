/* demo_data.h - the embedded demo sample (demo_data.c): file names relative to the folder the
 * demo unpacks into, and their bytes [start, end). */
#ifndef DANN_CLI_DEMO_DATA_H
#define DANN_CLI_DEMO_DATA_H

typedef struct {
    const char *name;            /* e.g. "mnist/train-images-idx3-ubyte.gz"; NULL ends the list */
    const unsigned char *start, *end;
} demo_file;

extern const demo_file demo_files[];

#endif
