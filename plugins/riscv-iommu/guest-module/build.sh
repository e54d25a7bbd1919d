#!/bin/sh
# Builds emuhost_iommu_dma.ko, the guest test module, for the reference guest's stock kernel:
# Debian's linux-headers for that ABI (riscv64) and Debian's kbuild host tools (amd64, the
# machine that builds), Debian's gcc-riscv64-linux-gnu cross compiler, Kbuild's own
# external-module build. The result is committed beside this script (with its vermagic in
# emuhost_iommu_dma.abi), so tests and CI never need the toolchain.
#
#   plugins/riscv-iommu/guest-module/build.sh [ABI]     # default 7.2.13+deb14
#
# Needs: apt-get, dpkg-deb (Debian's own clients, through a private APT state under
# $WORK, so the host's apt is untouched), make, riscv64-linux-gnu-gcc
# (apt-get install gcc-riscv64-linux-gnu). Downloads ~30 MB from Debian's archive.
set -eu
ABI=${1:-7.2.13+deb14}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-$HOME/.cache/emuhost-guest-module}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
KEYRING=${KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
mkdir -p "$WORK/apt/etc/apt/sources.list.d" "$WORK/apt/etc/apt/preferences.d" \
  "$WORK/apt/etc/apt/apt.conf.d" "$WORK/apt/etc/apt/trusted.gpg.d" \
  "$WORK/apt/var/lib/apt/lists/partial" "$WORK/apt/var/cache/apt/archives/partial" \
  "$WORK/apt/var/lib/dpkg" "$WORK/debs" "$WORK/root"
: > "$WORK/apt/var/lib/dpkg/status"
cat > "$WORK/apt/etc/apt/sources.list.d/sid.sources" <<SRC
Types: deb
URIs: $MIRROR
Suites: sid
Components: main
Architectures: riscv64 amd64
Signed-By: $KEYRING
SRC
PROXY=$(env -u APT_CONFIG apt-config shell P Acquire::http::Proxy | sed -n "s/^P='\(.*\)'$/\1/p")
cat > "$WORK/apt/apt.conf" <<CONF
Dir "$WORK/apt/";
Dir::State::status "$WORK/apt/var/lib/dpkg/status";
APT::Architecture "amd64";
APT::Architectures { "amd64"; "riscv64"; };
Acquire::Languages "none";
Acquire::Check-Valid-Until "false";
Acquire::Check-Date "false";
APT::Sandbox::User "root";
${PROXY:+Acquire::http::Proxy "$PROXY";}
CONF
export APT_CONFIG="$WORK/apt/apt.conf"
apt-get update -q >/dev/null
cd "$WORK/debs"
apt-get download -q "linux-headers-$ABI-riscv64:riscv64" "linux-headers-$ABI-common" \
  "linux-kbuild-$ABI:amd64" "libc6:amd64" 2>&1 | tail -3 || true
ls
for d in linux-*.deb; do dpkg-deb -x "$d" "$WORK/root"; done
# sid's kbuild tools need sid's C library (GLIBC_2.38): it goes in a directory of its own,
# and modpost runs through its loader, so the host's libc is never replaced.
dpkg-deb -x libc6_*_amd64.deb "$WORK/libc"
KDIR=$(ls -d "$WORK"/root/usr/src/linux-headers-"$ABI"-riscv64)
echo "kernel build dir: $KDIR"
# Debian's headers name their siblings by absolute /usr/src paths: point them at ours.
sed -i "s|/usr/src/|$WORK/root/usr/src/|g" "$KDIR/Makefile"
# Compiler features the kernel's gcc-16 has and this host's cross gcc (12) lacks: the flags
# they add are dropped from our copy of the build configuration (auto.conf), never the
# kernel's. -fmin-function-alignment=8 becomes -falign-functions=8 (same alignment); the module
# gets no BTF (pahole is not needed; the kernel loads modules without it).
for opt in ${DROP_CC_OPTS:-CC_HAS_MIN_FUNCTION_ALIGNMENT TOOLCHAIN_HAS_ZABHA TOOLCHAIN_HAS_ZACAS TOOLCHAIN_HAS_ZBKB TOOLCHAIN_HAS_VECTOR_CRYPTO CC_HAS_COUNTED_BY_PTR CC_HAS_MULTIDIMENSIONAL_NONSTRING CC_HAS_ASSUME CC_HAS_AUTO_VAR_INIT_ZERO_BARE DEBUG_INFO_BTF_MODULES}; do
  sed -i "/^CONFIG_$opt=/d" "$KDIR/include/config/auto.conf"
done
# modpost is a dispatcher that runs "<its argv[0]>.real-lsb-64" for a 64-bit little-endian
# module; both go through the loader (wrappers named so that argv[0] still leads there).
MOD="$WORK/root/usr/lib/linux-kbuild-$ABI/scripts/mod"
LDSO="$WORK/libc/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
LIBS="$WORK/libc/usr/lib/x86_64-linux-gnu"
if [ ! -e "$MOD/modpost.elf" ]; then mv "$MOD/modpost" "$MOD/modpost.elf"; fi
printf '#!/bin/sh\nexec "%s" --library-path "%s" "%s" "$@"\n' "$LDSO" "$LIBS" "$MOD/modpost.elf" > "$MOD/modpost"
ln -sf modpost.real-lsb-64 "$MOD/modpost.elf.real-lsb-64.elf"
printf '#!/bin/sh\nexec "%s" --library-path "%s" "%s" "$@"\n' "$LDSO" "$LIBS" "$MOD/modpost.real-lsb-64" > "$MOD/modpost.elf.real-lsb-64"
chmod +x "$MOD/modpost" "$MOD/modpost.elf.real-lsb-64"
B="$WORK/build"
rm -rf "$B"; mkdir -p "$B"
cp "$HERE/emuhost_iommu_dma.c" "$HERE/Kbuild" "$B/"
# The kernel was built with riscv64-linux-gnu-gcc-16; the module is built with the cross
# compiler Debian has for this host (its version is checked nowhere that matters for a
# module this small: DEBIAN_KERNEL_NO_CC_VERSION_CHECK is set in the headers).
make -C "$KDIR" M="$B" ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu- \
  CC=riscv64-linux-gnu-gcc ${MAKEFLAGS_EXTRA:-} modules
riscv64-linux-gnu-strip --strip-debug -o "$HERE/emuhost_iommu_dma.ko" "$B/emuhost_iommu_dma.ko"
riscv64-linux-gnu-objcopy -O binary --only-section=.modinfo "$HERE/emuhost_iommu_dma.ko" /dev/stdout \
  | tr '\0' '\n' | sed -n 's/^vermagic=//p' > "$HERE/emuhost_iommu_dma.abi"
echo "built $HERE/emuhost_iommu_dma.ko for: $(cat "$HERE/emuhost_iommu_dma.abi")"
