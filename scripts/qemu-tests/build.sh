#!/usr/bin/env bash
# Builds QEMU's own qtest programs i440fx-test, endianness-test and qos-test (libqos's graph of
# machines and devices: emuhost runs its virtio-blk-pci and virtio-rng-pci nodes) from Debian's `qemu` source
# package, outside the repository, for `npm run test:qemu` (scripts/qemu-tests/run.mjs).
#
#   scripts/qemu-tests/build.sh        # work dir: $EMUHOST_QEMU_DIR or ~/.cache/emuhost-qemu
#
# Idempotent: each step is skipped when its result is already there. Needs Debian (or a
# derivative) with apt; installs only what configure and ninja need for these programs,
# not `apt-get build-dep qemu` (which pulls in hundreds of packages).
set -euo pipefail

WORK="${EMUHOST_QEMU_DIR:-$HOME/.cache/emuhost-qemu}"
TESTS=(tests/qtest/i440fx-test tests/qtest/endianness-test tests/qtest/qos-test)
DEPS=(dpkg-dev meson ninja-build python3 python3-venv pkg-config gcc make flex bison
  libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev)

log() { printf '== %s\n' "$*" >&2; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    log "not root and no sudo: apt steps will fail unless everything is already installed"
  fi
fi
export DEBIAN_FRONTEND=noninteractive

missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

# 1. deb-src entries, so `apt-get source` can find the source package.
enable_deb_src() {
  local changed=0 f
  if grep -rqsE '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null ||
    grep -qsE '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources 2>/dev/null; then
    return 1
  fi
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    if grep -qE '^Types:[[:space:]]*deb[[:space:]]*$' "$f"; then
      log "enabling deb-src in $f"
      "${SUDO[@]}" sed -i -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb deb-src/' "$f"
      changed=1
    fi
  done
  if [ "$changed" -eq 0 ] && [ -f /etc/apt/sources.list ]; then
    log "adding deb-src lines to /etc/apt/sources.list"
    grep -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list | sed -E 's/^([[:space:]]*)deb[[:space:]]/\1deb-src /' |
      "${SUDO[@]}" tee -a /etc/apt/sources.list >/dev/null
    changed=1
  fi
  [ "$changed" -eq 1 ]
}

APT_UPDATED=0
apt_update() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    "${SUDO[@]}" apt-get update -qq
    APT_UPDATED=1
  fi
}

if enable_deb_src; then apt_update; fi

# 2. Build tools and libraries.
mapfile -t MISSING < <(missing_pkgs "${DEPS[@]}")
if [ "${#MISSING[@]}" -gt 0 ]; then
  apt_update
  log "apt-get install ${MISSING[*]}"
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${MISSING[@]}"
fi

# 3. The source package.
mkdir -p "$WORK"
SRC="$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | sort | tail -n 1)"
if [ -z "$SRC" ] || [ ! -f "$SRC/configure" ]; then
  apt_update
  log "apt-get source qemu (in $WORK)"
  # apt-get source wants write access to the current folder, and warns when run as root
  # that it cannot drop privileges to _apt; both are harmless here.
  (cd "$WORK" && apt-get source -qq qemu)
  SRC="$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | sort | tail -n 1)"
fi
[ -n "$SRC" ] && [ -f "$SRC/configure" ] || {
  log "no QEMU source tree in $WORK"
  exit 1
}
log "QEMU source: $SRC"

# 4. Configure for x86_64-softmmu only, with everything optional off.
BUILD="$SRC/build-emuhost"
if [ ! -f "$BUILD/build.ninja" ]; then
  log "configure (in $BUILD)"
  mkdir -p "$BUILD"
  # Debian's tarball has no embedded meson: use the system one, with the system python first on
  # PATH (a pyenv or venv python would not see the apt-installed meson module).
  (cd "$BUILD" && PATH="/usr/bin:$PATH" ../configure \
    --meson=/usr/bin/meson \
    --target-list=x86_64-softmmu \
    --disable-docs \
    --disable-werror \
    --without-default-features \
    --disable-tools \
    --disable-guest-agent \
    --disable-plugins \
    --disable-debug-info)
fi

# 5. The test programs (and only what they link; qos-test compiles every libqos node, ~5 min).
log "ninja ${TESTS[*]}"
ninja -C "$BUILD" "${TESTS[@]}"

for t in "${TESTS[@]}"; do
  [ -x "$BUILD/$t" ] || {
    log "missing $BUILD/$t"
    exit 1
  }
  echo "$BUILD/$t"
done
log "built; run them against emuhost with: npm run test:qemu"
