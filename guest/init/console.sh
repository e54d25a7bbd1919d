#!/bin/sh
# /init of the `console` initramfs: the virtio console test (plugins/virtio-serial). The host
# gives the guest a virtconsole (/dev/hvc0) and a virtserialport named org.example.0; the
# guest names the ports it finds, writes a line to each, reads one line from hvc0 that the
# host sends once it sees "hvc reading", and powers off. Markers go to the UART (ttyS0) on
# lines starting "EMUHOST-GUEST:". Waits are bounded polls, never timing assumptions.
# modules:
M=EMUHOST-GUEST:
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "$M init reached"

# virtio_console is built in; its ports appear once the control exchange is done.
i=0
while [ ! -c /dev/hvc0 ] && [ $i -lt 400 ]; do sleep 0.1; i=$((i+1)); done
for p in /sys/class/virtio-ports/*; do
  [ -e "$p" ] || continue
  n=$(basename "$p")
  # a port's name comes in its own control message, after the port itself
  j=0
  while [ ! -s "$p/name" ] && [ $j -lt 50 ]; do sleep 0.1; j=$((j+1)); done
  echo "$M vport $n name=$(cat "$p/name" 2>/dev/null)"
done

if [ -c /dev/hvc0 ]; then
  # One descriptor for the whole exchange: hvc resets its termios on the last close.
  exec 3<>/dev/hvc0
  stty raw -echo <&3
  echo "EMUHOST-HVC: hello from the guest" >&3
  echo "$M hvc written"
  echo "$M hvc reading"
  if read -r -t 120 line <&3; then echo "$M hvc read: $line"
  else echo "$M hvc read FAILED"; fi
  exec 3<&-
else
  echo "$M hvc absent (waited $i polls)"
fi

for p in /sys/class/virtio-ports/*; do
  [ "$(cat "$p/name" 2>/dev/null)" = org.example.0 ] || continue
  dev=/dev/$(basename "$p")
  if echo "EMUHOST-VPORT: hello from the guest" > "$dev"; then echo "$M vport written"
  else echo "$M vport write FAILED"; fi
done

echo "$M poweroff"
poweroff -f
echo "$M poweroff FAILED"
