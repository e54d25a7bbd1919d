#!/bin/sh
# /init of the `shell` initramfs (`npm run boot`): the test flavour's setup, then an
# interactive busybox shell on the console. `setsid cttyhack` gives the shell a session with
# the console as its controlling terminal, so job control and Ctrl-C work.
# modules: virtio_blk virtio-rng failover net_failover virtio_net
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in virtio_blk virtio-rng failover net_failover virtio_net; do
  [ -e "/lib/modules/$m.ko" ] && insmod "/lib/modules/$m.ko"
done
echo "EMUHOST-GUEST: shell (leave with exit; the machine then powers off)"
setsid cttyhack sh -l
poweroff -f
