#!/bin/sh
# /init of the `io` initramfs: a disk I/O loop for hot-reload tests. It writes checksummed
# blocks to /dev/vda, drops the page cache and reads each back, round after round, until a
# line arrives on the console (or emuhost.io.rounds=N rounds are done); then it prints each
# block's final checksum (for the host to compare with the image) and powers off.
#   EMUHOST-IO: round N ok               a block written and read back intact
#   EMUHOST-IO: ERROR round N ...        a write or read that failed (an I/O error)
#   EMUHOST-IO: MISMATCH round N ...     a block that came back different
#   EMUHOST-IO: block B sector S md5 X   after the loop: what each block must hold
# Blocks are 8 KiB, BLOCKS of them from sector 0 (the disk needs BLOCKS * 16 sectors).
# modules: virtio_blk
M=EMUHOST-IO:
BLOCKS=16
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# Debian's kernel does not mount devtmpfs itself (DEVTMPFS_MOUNT=n)
mount -t devtmpfs devtmpfs /dev
# Warnings and worse on the console, not every drop_caches note.
dmesg -n 5
mkdir -p /tmp/io
echo "$M init reached"

if [ -e /lib/modules/virtio_blk.ko ]; then
  if insmod /lib/modules/virtio_blk.ko; then echo "$M insmod virtio_blk ok"
  else echo "$M insmod virtio_blk FAILED"; fi
fi
# Up to 40 s: a probe that waits on an IOMMU supplier ends after the deferred-probe timeout.
i=0
while [ ! -b /dev/vda ] && [ $i -lt 400 ]; do sleep 0.1; i=$((i+1)); done
if [ ! -b /dev/vda ]; then echo "$M no disk"; echo "$M poweroff"; poweroff -f; fi

rounds=$(sed -n 's/.*emuhost\.io\.rounds=\([0-9]*\).*/\1/p' /proc/cmdline)
[ -n "$rounds" ] || rounds=1000000
# Any line on the console ends the loop (the test sends one when its reloads are done).
# (A background job reads /dev/null unless told otherwise.)
(read -r _ </dev/console && touch /tmp/io/stop) &
echo "$M loop start"
n=0
while [ ! -e /tmp/io/stop ] && [ $n -lt "$rounds" ]; do
  b=$((n % BLOCKS))
  dd if=/dev/urandom of=/tmp/io/w bs=4096 count=2 2>/dev/null
  sum=$(md5sum < /tmp/io/w | cut -d' ' -f1)
  if ! dd if=/tmp/io/w of=/dev/vda bs=4096 seek=$((b * 2)) count=2 conv=notrunc,fsync 2>/tmp/io/err; then
    echo "$M ERROR round $n write block $b: $(cat /tmp/io/err)"
  else
    echo "$sum" > /tmp/io/sum.$b
  fi
  # From the device, not the page cache.
  echo 3 > /proc/sys/vm/drop_caches
  if ! dd if=/dev/vda of=/tmp/io/r bs=4096 skip=$((b * 2)) count=2 2>/tmp/io/err; then
    echo "$M ERROR round $n read block $b: $(cat /tmp/io/err)"
  else
    back=$(md5sum < /tmp/io/r | cut -d' ' -f1)
    if [ "$back" = "$sum" ]; then echo "$M round $n ok"
    else echo "$M MISMATCH round $n block $b: wrote $sum read $back"; fi
  fi
  n=$((n+1))
done
echo "$M loop end after $n rounds"
sync
for f in /tmp/io/sum.*; do
  [ -e "$f" ] || continue
  b=${f##*.}
  echo "$M block $b sector $((b * 16)) md5 $(cat "$f")"
done
echo "$M kernel begin"
dmesg | grep -E 'WARNING|BUG|I/O error|blk_update_request|virtio'
echo "$M kernel end"
echo "$M poweroff"
poweroff -f
