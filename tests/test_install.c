/* test_install.c - the library as people install it (README, Install): the shared library
 * exports exactly the functions of include/dann.h and carries its soname; the examples run
 * against the in-tree library; `make install` into a temporary DESTDIR gives a tree from which
 * pkg-config and the examples work without the source tree, linked dynamically and statically;
 * `make uninstall` removes it all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dann.h"
#include "install_testutil.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define SOFILE "libdann.so." STR(DANN_VERSION_MAJOR) "." STR(DANN_VERSION_MINOR)
#define SONAME "libdann.so." STR(DANN_VERSION_MAJOR)

TEST(examples_train_custom) {
    if (!at_repo_root()) SKIP("not run from the repository root");
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    const char *bin = pathf(build_dir(), "examples/train_custom");
    CHECK(exists(bin), "%s is missing (make test builds the examples)", bin);
    if (!exists(bin)) return;
    const char *args[] = {NULL};
    check_train_custom_output(run_prog(bin, args), bin);
}

TEST(exports_match_header) {
    if (!at_repo_root()) SKIP("not run from the repository root");
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    static char fn[256][64];
    int nf = header_functions(fn, 256);
    CHECK(nf >= 30, "include/dann.h: found %d functions", nf);
    char so[512];
    snprintf(so, sizeof so, "%s/" SOFILE, build_dir());
    run_result *r = sh("nm -D --defined-only %s", so);
    CHECK(r->rc == 0, "nm -D %s: status %d: %s", so, r->rc, r->err);
    if (r->rc) return;
    static char ex[512][64];
    int ne = 0;
    for (char *l = strtok(r->out, "\n"); l && ne < 512; l = strtok(NULL, "\n")) {
        char addr[64], type[8], name[64];
        if (sscanf(l, "%63s %7s %63s", addr, type, name) != 3) continue;
        CHECK(name_in((const char (*)[64])fn, nf, name),
              "%s exports %s (type %s), which include/dann.h does not declare", so, name, type);
        snprintf(ex[ne++], 64, "%s", name);
    }
    for (int i = 0; i < nf; i++)
        CHECK(name_in((const char (*)[64])ex, ne, fn[i]),
              "include/dann.h declares %s, which %s does not export (src/libdann.map, DANN_API)",
              fn[i], so);
    r = sh("readelf -d %s", so);
    CHECK(strstr(r->out, "Library soname: [" SONAME "]"), "%s: soname is not " SONAME ":\n%s", so,
          r->out);
    char link[512], want[512];
    snprintf(link, sizeof link, "%s/libdann.so", build_dir());
    snprintf(want, sizeof want, "%s/" SOFILE, build_dir());
    char *a = realpath(link, NULL), *b = realpath(want, NULL);
    CHECK(a && b && !strcmp(a, b), "%s does not lead to %s", link, want);
    free(a), free(b);
}

/* The files `make install` must put under root (DESTDIR + PREFIX). */
static void check_installed_tree(const char *root) {
    static const char *files[] = {"bin/dann", "lib/libdann.a", "lib/" SOFILE, "include/dann.h",
                                  "lib/pkgconfig/dann.pc", "share/man/man1/dann.1",
                                  "share/doc/dann/README.md", "share/doc/dann/docs/NETWORKS.md",
                                  "share/doc/dann/docs/VERSIONING.md",
                                  "share/doc/dann/examples/train_custom.c"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        CHECK(exists(pathf(root, files[i])), "make install did not write %s", pathf(root, files[i]));
    struct stat st;
    CHECK(stat(pathf(root, "bin/dann"), &st) == 0 && (st.st_mode & 0111), "bin/dann is not executable");
    char target[256] = "";
    ssize_t n = readlink(pathf(root, "lib/" SONAME), target, sizeof target - 1);
    CHECK(n > 0 && (target[n] = 0, !strcmp(target, SOFILE)), "lib/" SONAME " is not a link to " SOFILE);
    n = readlink(pathf(root, "lib/libdann.so"), target, sizeof target - 1);
    CHECK(n > 0 && (target[n] = 0, !strcmp(target, SONAME)), "lib/libdann.so is not a link to " SONAME);
    run_result *r = sh("cmp include/dann.h %s", pathf(root, "include/dann.h"));
    CHECK(r->rc == 0, "the installed dann.h differs from include/dann.h");
}

TEST(install_destdir_pkgconfig_examples) {
    if (!at_repo_root()) SKIP("not run from the repository root");
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
#if defined(__SANITIZE_ADDRESS__)
    SKIP("make install is tested in the plain build (its library is not instrumented)");
#endif
    char dest[512], root[600], pc[700];
    snprintf(dest, sizeof dest, "%s", test_tmpdir());  // its buffer is reused by later calls
    snprintf(root, sizeof root, "%s/usr", dest);
    snprintf(pc, sizeof pc, "PKG_CONFIG_PATH=%s/lib/pkgconfig pkg-config --define-prefix", root);
#ifdef _OPENMP
    const char *omp = "";
#else
    const char *omp = "OPENMP=0";
#endif
    run_result *r = sh("make -s install DESTDIR=%s PREFIX=/usr BUILD=%s %s 2>&1", dest, build_dir(), omp);
    CHECK(r->rc == 0, "make install: status %d:\n%s", r->rc, r->out);
    if (r->rc) return;
    check_installed_tree(root);

    r = sh("%s --modversion dann", pc);
    CHECK(r->rc == 0 && !strcmp(r->out, DANN_VERSION_STRING "\n"), "pkg-config --modversion: '%s' %s",
          r->out, r->err);
    r = sh("%s --cflags --libs dann", pc);
    char want_i[700], want_l[700];
    snprintf(want_i, sizeof want_i, "-I%s/include", root);
    snprintf(want_l, sizeof want_l, "-L%s/lib", root);
    CHECK(r->rc == 0 && strstr(r->out, want_i) && strstr(r->out, want_l) && strstr(r->out, "-ldann"),
          "pkg-config --cflags --libs dann: '%s' (want %s, %s, -ldann) %s", r->out, want_i, want_l,
          r->err);

    /* Every example, built against the installed tree alone: a copy outside the source tree,
     * compiled with pkg-config's flags only. */
    r = sh("ls examples/*.c");
    static char list[sizeof r->out];
    memcpy(list, r->out, sizeof list);
    int n_examples = 0;
    for (char *src = strtok(list, "\n"); src; src = strtok(NULL, "\n")) {
        char name[256];
        snprintf(name, sizeof name, "%s", strrchr(src, '/') + 1);
        name[strlen(name) - 2] = 0;
        n_examples++;
        r = sh("cp %s %s/%s.c && cd %s && cc -std=c11 -Wall -Wextra %s.c -o %s $(%s --cflags --libs dann) 2>&1",
               src, dest, name, dest, name, name, pc);
        CHECK(r->rc == 0, "%s: building against the installed library failed:\n%s", src, r->out);
        r = sh("LD_LIBRARY_PATH=%s/lib ldd %s/%s", root, dest, name);
        char want_so[700];
        snprintf(want_so, sizeof want_so, "%s/lib/" SONAME, root);
        CHECK(strstr(r->out, want_so), "%s: ldd does not resolve " SONAME " to %s:\n%s", name, want_so, r->out);
        r = sh("LD_LIBRARY_PATH=%s/lib %s/%s", root, dest, name);
        if (!strcmp(name, "train_custom")) check_train_custom_output(r, "installed, shared");
        else CHECK(r->rc == 0, "%s (shared): status %d: %s", name, r->rc, r->err);

        /* Static: libdann.a, the rest of its link line from Requires.private / Libs.private. */
        r = sh("cd %s && cc -std=c11 %s.c -o %s-static $(%s --cflags --libs --static dann | sed 's/-ldann /-l:libdann.a /') 2>&1",
               dest, name, name, pc);
        CHECK(r->rc == 0, "%s: static build against the installed library failed:\n%s", src, r->out);
        r = sh("readelf -d %s/%s-static", dest, name);
        CHECK(r->rc == 0 && !strstr(r->out, "libdann"), "%s-static still needs libdann.so:\n%s", name, r->out);
        r = sh("%s/%s-static", dest, name);
        if (!strcmp(name, "train_custom")) check_train_custom_output(r, "installed, static");
        else CHECK(r->rc == 0, "%s (static): status %d: %s", name, r->rc, r->err);
    }
    CHECK(n_examples >= 1, "no examples/*.c");

    r = sh("make -s uninstall DESTDIR=%s PREFIX=/usr BUILD=%s 2>&1 && find %s -type f -o -type l", dest,
           build_dir(), root);
    CHECK(r->rc == 0 && r->out[0] == 0, "make uninstall left: %s", r->out);
}

TEST(version_agrees) {
    char parts[32];
    snprintf(parts, sizeof parts, "%d.%d.%d", DANN_VERSION_MAJOR, DANN_VERSION_MINOR, DANN_VERSION_PATCH);
    CHECK(!strcmp(parts, DANN_VERSION_STRING), "DANN_VERSION_STRING %s, the numbers say %s",
          DANN_VERSION_STRING, parts);
    CHECK(DANN_VERSION == DANN_VERSION_MAJOR * 10000 + DANN_VERSION_MINOR * 100 + DANN_VERSION_PATCH,
          "DANN_VERSION %d", DANN_VERSION);
    const char *s = NULL;
    CHECK(dann_version(&s) == DANN_VERSION && s && !strcmp(s, DANN_VERSION_STRING),
          "dann_version() = %d '%s', want %d '%s'", dann_version(NULL), s ? s : "(null)", DANN_VERSION,
          DANN_VERSION_STRING);
    if (!dann_bin()) return;
    const char *args[] = {"--version", NULL};
    run_result *r = run_dann(args);
    CHECK(r->rc == 0 && !strcmp(r->out, "dann " DANN_VERSION_STRING "\n"), "dann --version: %d '%s'",
          r->rc, r->out);
}
