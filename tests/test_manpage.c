/* test_manpage.c - the documentation and packaging that must follow the code: the man page
 * (docs/dann.1) has a section for every command and names exactly the options its `--help`
 * names (the command list comes from `dann --help` and src/cli/cmd_*.c, the options from each
 * --help, so new commands and options are caught without this file changing); every option a
 * command parses (args_is in its cmd_*.c) is in its --help; debian/ and the man page carry the
 * header's version, and debian/control builds with every -dev package of the Makefile's DEPS. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dann.h"
#include "install_testutil.h"

#define MAX_CMDS 64
#define MAX_OPTS 128

typedef struct {
    int n;
    char name[MAX_OPTS][48];
} optset;

static void opt_add(optset *s, const char *o) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->name[i], o)) return;
    if (s->n < MAX_OPTS) snprintf(s->name[s->n++], sizeof s->name[0], "%s", o);
}
static int opt_has(const optset *s, const char *o) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->name[i], o)) return 1;
    return 0;
}

/* The long options (--name) named anywhere in text[0, len), --help left out (every command
 * takes it; the man page says so once). */
static void options_in(const char *text, size_t len, optset *s) {
    s->n = 0;
    for (size_t i = 0; i + 2 < len; i++) {
        if (text[i] != '-' || text[i + 1] != '-' || !isalnum((unsigned char)text[i + 2])) continue;
        if (i && (isalnum((unsigned char)text[i - 1]) || text[i - 1] == '-')) continue;
        char o[48];
        size_t k = 0;
        while (i + k < len && k < sizeof o - 1 &&
               (isalnum((unsigned char)text[i + k]) || text[i + k] == '-'))
            o[k] = text[i + k], k++;
        o[k] = 0;
        if (strcmp(o, "--help")) opt_add(s, o);
        i += k;
    }
}

/* docs/dann.1 with the roff escapes that touch option names removed (\- is -, \fB etc.). */
static char *man_text(void) {
    unsigned char *raw;
    long n = file_bytes("docs/dann.1", &raw);
    if (n < 0) return NULL;
    char *out = malloc((size_t)n + 1);
    long k = 0;
    for (long i = 0; i < n; i++) {
        if (raw[i] == '\\' && raw[i + 1] == '-') { out[k++] = '-'; i++; }
        else if (raw[i] == '\\' && raw[i + 1] == 'f' && raw[i + 2]) i += 2;
        else out[k++] = (char)raw[i];
    }
    out[k] = 0;
    free(raw);
    return out;
}

/* The commands: those `dann --help` lists ("  name  what it does") and the sub-commands that
 * src/cli/cmd_A_B.c implement ("A B", e.g. demo moons). */
static int list_commands(char (*cmds)[64]) {
    const char *none[] = {"--help", NULL};
    run_result *r = run_dann(none);
    int n = 0;
    for (char *l = strtok(r->out, "\n"); l; l = strtok(NULL, "\n"))
        if (l[0] == ' ' && l[1] == ' ' && islower((unsigned char)l[2]) && n < MAX_CMDS)
            sscanf(l, "%63s", cmds[n++]);
    run_result *f = sh("ls src/cli/cmd_*_*.c");
    for (char *l = strtok(f->out, "\n"); l; l = strtok(NULL, "\n")) {
        char a[64], b[64];
        if (sscanf(l, "src/cli/cmd_%63[a-z]_%63[a-z].c", a, b) == 2 && n < MAX_CMDS &&
            name_in((const char (*)[64])cmds, n, a))
            snprintf(cmds[n++], 64, "%.30s %.30s", a, b);
    }
    return n;
}

/* Runs `dann CMD --help` (CMD may be two words). */
static run_result *help_of(const char *cmd) {
    char a[64], b[64];
    int words = sscanf(cmd, "%63s %63s", a, b);
    const char *args2[] = {a, "--help", NULL}, *args3[] = {a, b, "--help", NULL};
    return run_dann(words == 2 ? args3 : args2);
}

TEST(man_page_matches_help) {
    if (!at_repo_root()) SKIP("not run from the repository root");
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    char *man = man_text();
    CHECK(man, "docs/dann.1 cannot be read");
    if (!man) return;
    static char cmds[MAX_CMDS][64];
    int nc = list_commands(cmds);
    CHECK(nc >= 10, "dann --help lists %d commands", nc);
    static optset help, page;
    for (int c = 0; c < nc; c++) {
        char head[96];
        snprintf(head, sizeof head, ".SS \"dann %.63s\"\n", cmds[c]);
        const char *sec = strstr(man, head);
        CHECK(sec, "docs/dann.1 has no section '%.*s' for the command", (int)strlen(head) - 1, head);
        if (!sec) continue;
        sec += strlen(head);
        const char *end = strstr(sec, "\n.S");  // the next .SS or .SH
        size_t len = end ? (size_t)(end - sec) : strlen(sec);
        run_result *r = help_of(cmds[c]);
        CHECK(r->rc == 0, "dann %s --help: status %d", cmds[c], r->rc);
        options_in(r->out, strlen(r->out), &help);
        options_in(sec, len, &page);
        for (int i = 0; i < help.n; i++)
            CHECK(opt_has(&page, help.name[i]),
                  "dann %s --help names %s; its section of docs/dann.1 does not", cmds[c], help.name[i]);
        for (int i = 0; i < page.n; i++)
            CHECK(opt_has(&help, page.name[i]),
                  "docs/dann.1 names %s under 'dann %s'; dann %s --help does not", page.name[i],
                  cmds[c], cmds[c]);
    }
    for (const char *s = strstr(man, "\n.SS \"dann "); s; s = strstr(s + 1, "\n.SS \"dann ")) {
        char name[64] = "";
        sscanf(s, "\n.SS \"dann %63[^\"]\"", name);
        CHECK(name_in((const char (*)[64])cmds, nc, name),
              "docs/dann.1 documents 'dann %s', which dann --help does not list", name);
    }
    free(man);
    run_result *g = sh("command -v groff >/dev/null || exit 0; groff -man -ww -z docs/dann.1 2>&1");
    CHECK(g->rc == 0 && g->out[0] == 0, "groff warns about docs/dann.1:\n%s", g->out);
}

TEST(help_names_every_parsed_option) {
    if (!at_repo_root()) SKIP("not run from the repository root");
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    static char cmds[MAX_CMDS][64];
    int nc = list_commands(cmds);
    run_result *f = sh("ls src/cli/cmd_*.c");
    static char files[sizeof f->out];
    memcpy(files, f->out, sizeof files);
    int checked = 0;
    for (char *path = strtok(files, "\n"); path; path = strtok(NULL, "\n")) {
        char stem[64] = "", cmd[64] = "";
        sscanf(path, "src/cli/cmd_%63[a-z_].c", stem);
        for (char *u = stem; *u; u++)
            if (*u == '_') *u = ' ';
        for (int c = 0; c < nc && !cmd[0]; c++)  // the command itself, or one it abbreviates
            if (!strcmp(cmds[c], stem) || !strncmp(cmds[c], stem, strlen(stem)))
                snprintf(cmd, sizeof cmd, "%.63s", cmds[c]);
        CHECK(cmd[0], "%s: no command of dann --help matches its name", path);
        if (!cmd[0]) continue;
        unsigned char *src;
        long n = file_bytes(path, &src);
        if (n < 0) continue;
        static run_result help;
        help = *help_of(cmd);
        optset parsed;
        parsed.n = 0;
        for (char *p = strstr((char *)src, "args_is("); p; p = strstr(p + 1, "args_is(")) {
            char *q = strstr(p, "\"--");
            char *close = strchr(p, ')');
            if (!q || (close && close < q)) continue;
            char o[48];
            if (sscanf(q + 1, "%47[A-Za-z0-9-]", o) == 1 && strcmp(o, "--help")) opt_add(&parsed, o);
        }
        optset named;
        options_in(help.out, strlen(help.out), &named);
        for (int i = 0; i < parsed.n; i++)
            CHECK(opt_has(&named, parsed.name[i]), "%s parses %s; dann %s --help does not name it",
                  path, parsed.name[i], cmd);
        checked += parsed.n;
        free(src);
    }
    CHECK(checked >= 50, "only %d parsed options found in src/cli/cmd_*.c", checked);
}

/* The value of a "Field:" of a debian/control-style text (with its continuation lines), in a
 * static buffer; "" when absent. */
static const char *deb_field(const char *text, const char *field) {
    static char v[4096];
    v[0] = 0;
    char key[64];
    snprintf(key, sizeof key, "\n%s:", field);
    const char *p = strstr(text, key);
    if (!p) return v;
    p += strlen(key);
    size_t k = 0;
    while (*p && k < sizeof v - 1) {
        if (*p == '\n' && p[1] != ' ' && p[1] != '\t') break;
        v[k++] = *p++;
    }
    v[k] = 0;
    return v;
}

TEST(packaging_agrees_with_header) {
    if (!at_repo_root()) SKIP("not run from the repository root");
    unsigned char *changelog, *control, *makefile, *man;
    CHECK(file_bytes("debian/changelog", &changelog) > 0, "debian/changelog cannot be read");
    CHECK(file_bytes("debian/control", &control) > 0, "debian/control cannot be read");
    CHECK(file_bytes("Makefile", &makefile) > 0, "Makefile cannot be read");
    CHECK(file_bytes("docs/dann.1", &man) > 0, "docs/dann.1 cannot be read");
    if (!changelog || !control || !makefile || !man) goto out;

    char version[64] = "";
    sscanf((char *)changelog, "dann (%63[^)])", version);
    char *dash = strrchr(version, '-');  // the Debian revision
    if (dash) *dash = 0;
    CHECK(!strcmp(version, DANN_VERSION_STRING),
          "debian/changelog's newest entry is version %s, include/dann.h says %s", version,
          DANN_VERSION_STRING);
    char th[128];
    snprintf(th, sizeof th, "\"dann %s\"", DANN_VERSION_STRING);
    const char *thl = strstr((char *)man, "\n.TH ");
    CHECK(thl && strstr(thl, th) && strstr(thl, th) < strchr(thl + 1, '\n'),
          "docs/dann.1's .TH line does not say %s", th);

    char pkg[64], install[96];
    snprintf(pkg, sizeof pkg, "\nPackage: libdann%d\n", DANN_VERSION_MAJOR);
    snprintf(install, sizeof install, "debian/libdann%d.install", DANN_VERSION_MAJOR);
    CHECK(strstr((char *)control, pkg), "debian/control has no package libdann%d (the soname's major)",
          DANN_VERSION_MAJOR);
    CHECK(exists(install), "%s is missing", install);
    CHECK(strstr((char *)control, "\nPackage: libdann-dev\n") && strstr((char *)control, "\nPackage: dann\n"),
          "debian/control lacks libdann-dev or dann");

    char bdeps[4096];
    snprintf(bdeps, sizeof bdeps, "%s,", deb_field((char *)control, "Build-Depends"));
    int n_dev = 0;
    for (const char *l = strstr((char *)makefile, "\nDEPS "); l; l = strstr(l + 1, "\nDEPS ")) {
        const char *eq = strchr(l + 1, '='), *eol = strchr(l + 1, '\n');
        if (!eq || !eol || eq > eol) continue;
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)(eol - eq - 1), eq + 1);
        for (char *w = strtok(line, " \t"); w; w = strtok(NULL, " \t")) {
            size_t lw = strlen(w);
            if (lw < 5 || strcmp(w + lw - 4, "-dev")) continue;
            n_dev++;
            char want[80];
            snprintf(want, sizeof want, " %s", w);
            const char *hit = strstr(bdeps, want);
            CHECK(hit && (hit[strlen(want)] == ',' || hit[strlen(want)] == ' ' || hit[strlen(want)] == '\n'),
                  "the Makefile's DEPS has %s; debian/control's Build-Depends does not", w);
        }
    }
    CHECK(n_dev >= 5, "found only %d -dev packages in the Makefile's DEPS", n_dev);
out:
    free(changelog), free(control), free(makefile), free(man);
}
