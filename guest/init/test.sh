#!/bin/sh
# /init of the `test` initramfs: what the host's boot test runs. It reports what it finds on
# lines that start with "EMUHOST-GUEST:" (multi-line dumps sit between "... begin" and
# "... end" markers), then powers off. Waits are bounded polls, never timing assumptions.
# modules: virtio_blk virtio-rng
M=EMUHOST-GUEST:
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# Debian's kernel does not mount devtmpfs itself (DEVTMPFS_MOUNT=n)
mount -t devtmpfs devtmpfs /dev
echo "$M init reached (uptime $(cut -d' ' -f1 /proc/uptime)s)"
echo "$M uname $(uname -a)"

echo "$M cpuinfo begin"
cat /proc/cpuinfo
echo "$M cpuinfo end"

load() {
  if [ ! -e "/lib/modules/$1.ko" ]; then echo "$M insmod $1 builtin"
  elif insmod "/lib/modules/$1.ko"; then echo "$M insmod $1 ok"
  else echo "$M insmod $1 FAILED"; fi
}
load virtio_blk
load virtio-rng

# Is there a virtio block device at all (PCI 1af4:1001/1042, or virtio device id 2 on any
# transport)? Only then wait for /dev/vda: up to 40 s, since a probe that waits on an IOMMU
# supplier finishes only after the kernel's 10 s deferred-probe timeout.
has_disk=no
for d in /sys/bus/pci/devices/*; do
  case "$(cat "$d/vendor" 2>/dev/null):$(cat "$d/device" 2>/dev/null)" in
    0x1af4:0x1001|0x1af4:0x1042) has_disk=yes ;;
  esac
done
grep -qx 0x0002 /sys/bus/virtio/devices/*/device 2>/dev/null && has_disk=yes
i=0
while [ "$has_disk" = yes ] && [ ! -b /dev/vda ] && [ $i -lt 400 ]; do sleep 0.1; i=$((i+1)); done

echo "$M pci begin"
for d in /sys/bus/pci/devices/*; do
  [ -e "$d" ] || continue
  v=$(cat "$d/vendor"); p=$(cat "$d/device"); c=$(cat "$d/class")
  drv=none; [ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
  echo "$M pci $(basename "$d") ${v#0x}:${p#0x} ${c#0x} $drv"
done
echo "$M pci end"

if [ -b /dev/vda ]; then
  echo "$M disk present after $i polls"
  # unquoted $(...): the shell joins od's columns with single spaces
  echo "$M disk sector0" $(dd if=/dev/vda bs=512 count=1 2>/dev/null | od -A n -t x1 -N 16)
  printf 'EMUHOST-GUEST-WROTE-THIS-SECTOR!' | dd of=/dev/vda bs=512 seek=1 conv=notrunc,fsync 2>/dev/null
  sync
  echo 3 > /proc/sys/vm/drop_caches
  back=$(dd if=/dev/vda bs=512 skip=1 count=1 2>/dev/null | head -c 32)
  if [ "$back" = EMUHOST-GUEST-WROTE-THIS-SECTOR! ]; then echo "$M disk write ok"
  else echo "$M disk write FAILED (read back: $back)"; fi
else
  echo "$M disk absent (virtio block device: $has_disk, waited $i polls)"
fi

# /dev/hwrng exists whenever the core is built in; a source is there only if one probed
rng=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
if [ -c /dev/hwrng ] && [ -n "$rng" ] && [ "$rng" != none ]; then
  bytes=$(timeout 40 od -A n -t x1 -N 16 /dev/hwrng)
  if [ -n "$bytes" ]; then echo "$M hwrng" $bytes; else echo "$M hwrng FAILED ($rng)"; fi
else
  echo "$M hwrng absent"
fi

echo "$M poweroff"
poweroff -f
echo "$M poweroff FAILED"
