#!/usr/bin/env bash
# build_deb.sh OUT_DIR - builds the Debian packages (libdann0, libdann-dev, dann) with
# dpkg-buildpackage from a copy of this tree's files (tracked and untracked, not ignored: no
# build outputs) in a temporary folder, since dpkg-buildpackage writes its outputs into the
# parent folder of the source tree; moves the .deb files into OUT_DIR and removes the rest.
# No -dbgsym packages (noautodbgsym), so that `apt-get install OUT_DIR/*.deb` installs the three.
set -euo pipefail
out="${1:?usage: tools/build_deb.sh OUT_DIR}"
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/dann"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -xf - -C "$tmp/dann"
start=$(date +%s)
(cd "$tmp/dann" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} noautodbgsym" dpkg-buildpackage -us -uc -b -j"$(nproc)" >"$tmp/build.log" 2>&1) || {
  tail -n 60 "$tmp/build.log" >&2
  echo "build_deb.sh: dpkg-buildpackage failed (the last 60 lines of its log are above)" >&2
  exit 1
}
mkdir -p "$out"
rm -f "$out"/*.deb
mv "$tmp"/*.deb "$out"/
echo "build_deb.sh: built in $(( $(date +%s) - start )) s:"
ls -l "$out"/*.deb
