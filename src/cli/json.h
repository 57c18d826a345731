/* json.h - the little JSON the CLI writes and reads back: flat objects of numbers, strings,
 * booleans and null (metrics.jsonl lines, summary.json, run.json).
 *
 * Writing: a fixed-size buffer filled key by key; numbers use %.10g (NaN/inf become null);
 * strings are escaped (", \, control characters). If the buffer would overflow, jb.overflow is
 * set and the text must not be used. Reading: json_get_* find "key": in ONE flat object (the
 * writer's own output; no nesting) and parse the value after it. */
#ifndef DANN_CLI_JSON_H
#define DANN_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char buf[4096];
    size_t n;
    int fields;
    int overflow;
} json_buf;

void json_begin(json_buf *j);                  /* "{" */
void json_int(json_buf *j, const char *key, int64_t v);
void json_u64(json_buf *j, const char *key, uint64_t v);
void json_num(json_buf *j, const char *key, double v);     /* null when not finite */
void json_f32(json_buf *j, const char *key, float v);       /* %.8g: a float32 value */
void json_num_or_null(json_buf *j, const char *key, double v, int present);
void json_str(json_buf *j, const char *key, const char *v); /* null when v is NULL */
void json_bool(json_buf *j, const char *key, int v);
void json_end(json_buf *j);                    /* "}\n" */

/* 1 and *out when `key` holds a number; 0 when absent, null or not a number. */
int json_get_num(const char *obj, const char *key, double *out);
/* 1 and the unescaped string in out (truncated to cap-1) when `key` holds a string. */
int json_get_str(const char *obj, const char *key, char *out, size_t cap);

#endif
