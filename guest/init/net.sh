#!/bin/sh
# /init of the `net` initramfs: two guests on one network ping each other. The kernel command
# line says who this guest is: `emuhost.ip=10.0.0.1 emuhost.peer=10.0.0.2`. It loads
# virtio_net, brings eth0 up with that address, pings the peer, answers the peer's pings for
# a while (the kernel does), reports on "EMUHOST-GUEST:" lines and powers off. Waits are
# bounded (ping's own deadline, in the guest's time), never timing assumptions.
# modules: failover net_failover virtio_net
M=EMUHOST-GUEST:
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "$M init reached (uptime $(cut -d' ' -f1 /proc/uptime)s)"

load() {
  if [ ! -e "/lib/modules/$1.ko" ]; then echo "$M insmod $1 builtin"
  elif insmod "/lib/modules/$1.ko"; then echo "$M insmod $1 ok"
  else echo "$M insmod $1 FAILED"; fi
}
load failover
load net_failover
load virtio_net

ip=; peer=; wait=30; linger=3
for w in $(cat /proc/cmdline); do
  case "$w" in
    emuhost.ip=*) ip=${w#emuhost.ip=} ;;
    emuhost.peer=*) peer=${w#emuhost.peer=} ;;
    emuhost.wait=*) wait=${w#emuhost.wait=} ;;
    emuhost.linger=*) linger=${w#emuhost.linger=} ;;
  esac
done

# The NIC appears once the driver probed it: up to 10 s of polls.
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
if [ ! -e /sys/class/net/eth0 ]; then
  echo "$M eth0 absent"
else
  echo "$M eth0 mac $(cat /sys/class/net/eth0/address)"
  ip link set lo up
  ip link set eth0 up
  ifconfig eth0 "$ip" netmask 255.255.255.0
  echo "$M eth0 $(ip -4 addr show dev eth0 | grep -o 'inet [0-9./]*')"
  echo "$M eth0 carrier $(cat /sys/class/net/eth0/carrier)"
  # The peer may boot later (a QEMU peer boots much faster): one ping at a time until it
  # answers, for at most $wait s of the guest's time, then three.
  i=0
  while ! ping -c 1 -W 2 "$peer" > /dev/null 2>&1 && [ $i -lt "$wait" ]; do i=$((i+2)); done
  if ping -c 3 -W 10 "$peer" > /tmp/ping 2>&1; then echo "$M ping $peer ok"
  else echo "$M ping $peer FAILED"; fi
  sed "s/^/$M ping: /" /tmp/ping | grep -v 'time='
  # Stay up a while for the peer's own pings.
  sleep "$linger"
  echo "$M rx_packets $(cat /sys/class/net/eth0/statistics/rx_packets) tx_packets $(cat /sys/class/net/eth0/statistics/tx_packets)"
fi

echo "$M poweroff"
poweroff -f
echo "$M poweroff FAILED"
