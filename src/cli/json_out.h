/* json_out.h - the little JSON the subcommands print (--json): strings escaped per RFC 8259. */
#ifndef DANN_CLI_JSON_OUT_H
#define DANN_CLI_JSON_OUT_H

#include <stdio.h>

/* Writes s as a JSON string literal (quotes, backslash and control characters escaped; other
 * bytes, UTF-8 included, pass through). */
void json_string(FILE *f, const char *s);

#endif
