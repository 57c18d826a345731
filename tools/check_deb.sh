#!/usr/bin/env bash
# check_deb.sh - run after `apt-get install ./build/deb/*.deb` (CI does): the installed packages
# work without the source tree. Checks dann --version against the header, runs `dann demo`,
# finds the man page, and builds the example shipped in libdann-dev with pkg-config against the
# installed library, linked dynamically and statically, and runs both.
set -euo pipefail
want=$(sed -n 's/^#define DANN_VERSION_STRING "\(.*\)"/\1/p' "$(dirname "$0")/../include/dann.h")
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "check_deb.sh: $*" >&2; exit 1; }

[ "$(command -v dann)" = /usr/bin/dann ] || fail "dann is not /usr/bin/dann: $(command -v dann)"
[ "$(dann --version)" = "dann $want" ] || fail "dann --version says '$(dann --version)', want 'dann $want'"
! ldd /usr/bin/dann | grep -q "not found" || fail "ldd /usr/bin/dann: $(ldd /usr/bin/dann | grep 'not found')"
[ "$(pkg-config --modversion dann)" = "$want" ] || fail "pkg-config --modversion dann: $(pkg-config --modversion dann)"
if command -v man >/dev/null; then
  man -w dann >/dev/null || fail "man -w dann finds no page"
fi

start=$(date +%s)
dann demo
echo "check_deb.sh: dann demo took $(( $(date +%s) - start )) s"

ex=/usr/share/doc/libdann-dev/examples/train_custom.c
[ -f "$ex" ] || fail "$ex is missing"
cc -std=c11 -Wall -Wextra "$ex" -o ex $(pkg-config --cflags --libs dann)
cc -std=c11 "$ex" -o ex-static $(pkg-config --cflags --libs --static dann | sed 's/-ldann /-l:libdann.a /')
ldd ./ex | grep -Eq "libdann\.so\.[0-9]+ => (/usr)?/lib/" || fail "ex does not load the installed libdann: $(ldd ./ex)"
! readelf -d ex-static | grep -q libdann || fail "ex-static needs libdann.so"
./ex | tee out-shared
./ex-static > out-static
cmp out-shared out-static || fail "the example prints differently linked statically"
grep -q "^dann  *source accuracy" out-shared || fail "the example printed no DANN result"
echo "check_deb.sh: ok"
