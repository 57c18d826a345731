/* file.c - the one door through which every reader opens an input file, and the readers'
 * overridable resource limits.
 *
 * file_open_regular refuses at once anything that is not a regular file: a directory (which
 * fopen opens and ftell sizes as 0x7fffffffffffffff), a FIFO (whose open or read would wait
 * for a writer forever), a device or a socket. The file is opened with O_NONBLOCK, so opening
 * a FIFO returns at once; the type is then checked on the open descriptor (fstat: no race with
 * a rename between a stat and the open), and O_NONBLOCK is cleared again for a regular file.
 * Every message names the path: "x: is a directory, not a regular file".
 *
 * env_limit reads a limit such as DANN_MAX_GZIP_BYTES from the environment: a whole number,
 * optionally followed by K, M or G (powers of 1024); unset or empty gives the default. */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/core.h"

static const char *kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

dann_status file_open_regular(const char *path, int *fd_out, uint64_t *size, dann_error *err) {
    *fd_out = -1;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        dann_status s = dann_fail(err, e == ENOMEM ? DANN_ERR_NOMEM : DANN_ERR_IO,
                                  "%s: cannot open: %s", path, strerror(e));
        errno = e;  /* callers tell a missing file (ENOENT) from a refused one */
        return s;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return dann_fail(err, DANN_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        dann_status s = dann_fail(err, DANN_ERR_IO, "%s: is %s, not a regular file", path,
                                  kind_of(sb.st_mode));
        errno = S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
        return s;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        return dann_fail(err, DANN_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    if (size) *size = (uint64_t)sb.st_size;
    *fd_out = fd;
    return DANN_OK;
}

dann_status file_fopen_regular(const char *path, FILE **f_out, uint64_t *size, dann_error *err) {
    int fd;
    *f_out = NULL;
    dann_status st = file_open_regular(path, &fd, size, err);
    if (st) return st;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return dann_fail(err, DANN_ERR_NOMEM, "%s: cannot open: out of memory", path);
    }
    *f_out = f;
    return DANN_OK;
}

dann_status env_limit(const char *name, uint64_t dflt, uint64_t *out, dann_error *err) {
    const char *v = getenv(name);
    *out = dflt;
    if (!v || !*v) return DANN_OK;
    uint64_t x = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (x > (UINT64_MAX - 9) / 10) goto bad;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    int shift = *p == 'K' || *p == 'k' ? 10 : *p == 'M' || *p == 'm' ? 20 : *p == 'G' || *p == 'g' ? 30 : 0;
    if (shift) p++;
    if (p == v || *p || x == 0 || x > (UINT64_MAX >> shift)) goto bad;
    *out = x << shift;
    return DANN_OK;
bad:
    return dann_fail(err, DANN_ERR_ARG, "%s='%s': expected a positive whole number, optionally "
                     "followed by K, M or G", name, v);
}
