/* data_testutil.c - see data_testutil.h. */
#include "data_testutil.h"
#include <archive.h>
#include <archive_entry.h>
#include <jpeglib.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static void die(const char *what, const char *path) {
    fprintf(stderr, "test setup failed: %s %s\n", what, path);
    abort();
}

const char *tu_path(const char *dir, const char *name) {
    static char bufs[4][1024];
    static int k;
    char *b = bufs[k++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, name);
    return b;
}

void tu_mkdir(const char *path) {
    if (mkdir(path, 0700) != 0) die("mkdir", path);
}

void tu_write(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) die("write", path);
}

int tu_read(const char *path, tu_buf *b) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b->p = malloc((size_t)n + 1);
    b->n = b->cap = (size_t)n;
    int ok = b->p && fread(b->p, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    return ok;
}

void tu_truncate_file(const char *path, long len) {
    if (truncate(path, len) != 0) die("truncate", path);
}

void tu_write_idx(const char *path, int gz, uint32_t magic, const uint32_t *dims, int ndims,
                  const uint8_t *payload, size_t len, size_t trailing) {
    size_t n = 0;
    uint8_t *b = malloc(16 + len + trailing);
    if (!b) die("malloc", path);
    if (magic || ndims) {
        uint32_t words[4] = {magic, 0, 0, 0};
        for (int i = 0; i < ndims; i++) words[i + 1] = dims[i];
        for (int i = 0; i <= ndims; i++)
            for (int k = 0; k < 4; k++) b[n++] = (uint8_t)(words[i] >> (24 - 8 * k));
    }
    memcpy(b + n, payload, len);
    n += len;
    memset(b + n, 7, trailing);
    n += trailing;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f || (n && gzwrite(f, b, (unsigned)n) != (int)n) || gzclose(f) != Z_OK)
            die("gzwrite", path);
    } else {
        tu_write(path, b, n);
    }
    free(b);
}

static void png_mem_write(png_structp png, png_bytep d, size_t n) {
    tu_buf *b = png_get_io_ptr(png);
    if (b->n + n > b->cap) {
        b->cap = 2 * (b->n + n);
        if (!(b->p = realloc(b->p, b->cap))) die("realloc", "png");
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void png_mem_flush(png_structp png) { (void)png; }

void tu_png_encode(tu_buf *b, int w, int h, int type, int depth, int interlace,
                   const uint8_t *data, const png_color *pal, int npal, const uint8_t *trns,
                   int ntrns) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) die("png encode", "");
    png_set_write_fn(png, b, png_mem_write, png_mem_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (trns) png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    png_bytep *rows = malloc((size_t)h * sizeof *rows);
    if (!rows) die("malloc", "png rows");
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)data + (size_t)y * rowbytes;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    free(rows);
    png_destroy_write_struct(&png, &info);
}

void tu_png_solid(const char *path, int w, int h, int c, const uint8_t *colour) {
    uint8_t *px = malloc((size_t)w * h * c);
    tu_buf b = {0};
    if (!px) die("malloc", path);
    for (int i = 0; i < w * h; i++) memcpy(px + (size_t)i * c, colour, (size_t)c);
    tu_png_encode(&b, w, h, c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, 8, 0, px, NULL, 0,
                  NULL, 0);
    tu_write(path, b.p, b.n);
    free(b.p);
    free(px);
}

void tu_jpeg_write(const char *path, int w, int h, int c, const uint8_t *px, int quality) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    unsigned char *mem = NULL;
    unsigned long len = 0;
    ci.err = jpeg_std_error(&jerr);  /* the default handler exits: a broken test environment */
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &mem, &len);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = c;
    ci.in_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * w * c);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    tu_write(path, mem, len);
    free(mem);
}

struct archive *tu_tar_begin(const char *path) {
    struct archive *a = archive_write_new();
    if (!a || archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_open_filename(a, path) != ARCHIVE_OK)
        die("archive open", path);
    return a;
}

void tu_tar_add(struct archive *a, const char *name, const void *data, size_t len) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, data ? AE_IFREG : AE_IFDIR);
    archive_entry_set_perm(e, data ? 0644 : 0755);
    archive_entry_set_size(e, data ? (la_int64_t)len : 0);
    if (archive_write_header(a, e) != ARCHIVE_OK) die("archive header", name);
    if (data && archive_write_data(a, data, len) != (la_ssize_t)len) die("archive data", name);
    archive_entry_free(e);
}

void tu_tar_end(struct archive *a) {
    if (archive_write_close(a) != ARCHIVE_OK) die("archive close", "");
    archive_write_free(a);
}
