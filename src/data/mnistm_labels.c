/* mnistm_labels.c - MNIST-M's label files, mnist_m_{train,test}_labels.txt: one "NAME LABEL"
 * line per image (LF or CRLF, blank lines and blanks around the fields ignored), NAME a plain
 * file name (no '/', not "." or ".."), LABEL a decimal class in [0, 10). The file's line order is
 * the dataset's order; a name listed twice, a NUL byte, an empty list or any other line is an
 * error naming FILE:LINE. Names are looked up through a sorted index (labels_find). */
#include <stdlib.h>
#include <string.h>
#include "data/load.h"

void labels_free(label_list *L) {
    free(L->text);
    free(L->names);
    free(L->y);
    free(L->sorted);
    memset(L, 0, sizeof *L);
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const name_ref *)a)->name, ((const name_ref *)b)->name);
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

dann_status labels_parse(label_list *L, char *text, size_t len, const char *where,
                         dann_error *err) {
    size_t cap = 1;
    memset(L, 0, sizeof *L);
    L->text = text;
    const char *nul = memchr(text, 0, len);
    if (nul) {
        int at = 1;
        for (const char *c = text; c < nul; c++) at += *c == '\n';
        return dann_fail(err, DANN_ERR_FORMAT, "%s:%d: a NUL byte (not a text file)", where, at);
    }
    for (size_t i = 0; i < len; i++) cap += text[i] == '\n';
    L->names = malloc(cap * sizeof *L->names);
    L->y = malloc(cap * sizeof *L->y);
    L->sorted = malloc(cap * sizeof *L->sorted);
    if (!L->names || !L->y || !L->sorted)
        return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory for %zu labels", where, cap);
    int line = 0;
    for (size_t pos = 0; pos < len;) {
        size_t end = pos;
        while (end < len && text[end] != '\n') end++;
        size_t next = end + 1, s = pos, e = end;
        line++;
        while (e > s && is_blank(text[e - 1])) e--;
        while (s < e && is_blank(text[s])) s++;
        pos = next;
        if (s == e) continue;
        size_t ne = s, ls;
        while (ne < e && !is_blank(text[ne])) ne++;
        ls = ne;
        while (ls < e && is_blank(text[ls])) ls++;
        int label = 0, digits = 0, ok = ls > ne && ls < e;
        for (size_t k = ls; ok && k < e; k++) {
            if (text[k] < '0' || text[k] > '9') ok = 0;
            else if (++digits <= 9) label = label * 10 + (text[k] - '0');
        }
        if (!ok) {
            int shown = (int)(e - s < 60 ? e - s : 60);
            return dann_fail(err, DANN_ERR_FORMAT, "%s:%d: bad line '%.*s' (expected \"NAME LABEL\")",
                             where, line, shown, text + s);
        }
        if (digits > 9 || label >= MNISTM_CLASSES)
            return dann_fail(err, DANN_ERR_FORMAT, "%s:%d: label %.*s out of range [0, %d)", where,
                             line, (int)(e - ls), text + ls, MNISTM_CLASSES);
        text[ne] = 0;
        if (strchr(text + s, '/') || strcmp(text + s, ".") == 0 || strcmp(text + s, "..") == 0)
            return dann_fail(err, DANN_ERR_FORMAT, "%s:%d: bad file name '%s'", where, line,
                             text + s);
        L->names[L->n] = text + s;
        L->y[L->n] = label;
        L->sorted[L->n].name = text + s;
        L->sorted[L->n].line = L->n;
        L->n++;
    }
    if (L->n == 0) return dann_fail(err, DANN_ERR_FORMAT, "%s: no labels", where);
    qsort(L->sorted, (size_t)L->n, sizeof *L->sorted, cmp_by_name);
    for (int i = 1; i < L->n; i++)
        if (strcmp(L->sorted[i - 1].name, L->sorted[i].name) == 0)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: '%s' is listed twice", where,
                             L->sorted[i].name);
    return DANN_OK;
}

int labels_find(const label_list *L, const char *name) {
    int lo = 0, hi = L->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(L->sorted[mid].name, name);
        if (c == 0) return L->sorted[mid].line;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}
