#!/bin/sh
# /init of the `dd` initramfs: the guest disk bench (bench/src/suites/blk-guest.ts). Writes
# then reads 64 MiB sequentially on /dev/vda with busybox dd, bypassing the page cache
# (O_DIRECT where this busybox has iflag=direct, else fsync and dropped caches), and brackets
# each with markers the host times; the guest's own clock goes on the marker lines too.
# modules: virtio_blk
M=EMUHOST-GUEST:
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "$M init reached"
if [ -e /lib/modules/virtio_blk.ko ]; then insmod /lib/modules/virtio_blk.ko; fi
i=0
while [ ! -b /dev/vda ] && [ $i -lt 400 ]; do sleep 0.1; i=$((i+1)); done
if [ ! -b /dev/vda ]; then
  echo "$M dd FAILED: no /dev/vda"
  poweroff -f
fi

now() { cut -d' ' -f1 /proc/uptime; }
if dd if=/dev/vda of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null; then
  mode=direct; wflags="oflag=direct"; rflags="iflag=direct"
else
  mode=cached; wflags="conv=fsync"; rflags=""
fi
echo "$M dd mode $mode"

echo "$M dd write begin $(now)"
dd if=/dev/zero of=/dev/vda bs=1M count=64 $wflags 2>/dev/null || echo "$M dd write FAILED"
echo "$M dd write end $(now)"
[ $mode = cached ] && sync && echo 3 > /proc/sys/vm/drop_caches
echo "$M dd read begin $(now)"
dd if=/dev/vda of=/dev/null bs=1M count=64 $rflags 2>/dev/null || echo "$M dd read FAILED"
echo "$M dd read end $(now)"

echo "$M poweroff"
poweroff -f
