/**
 * virtio-serial-pci / virtio-serial-device: QEMU's virtio console device
 * (hw/char/virtio-serial-bus.c, hw/char/virtio-console.c) as an emuhost plugin, on virtio-pci
 * modern (PCI 1af4:1043, class 0x078000) or, as `virtio-serial-device`, a machine's
 * virtio-mmio slot.
 *
 *   -chardev socket,id=c0,path=/tmp/c0.sock,server=on,wait=off   (or stdio, file, null...)
 *   -device virtio-serial-pci[,max_ports=N][,emergency-write=off]
 *   -device virtconsole,chardev=c0[,name=N][,nr=K]            the guest's /dev/hvc0
 *   -device virtserialport,chardev=c1,name=org.example.0       the guest's /dev/vport0p1
 *
 * QEMU's virtconsole and virtserialport are children on the device's bus; here they are the
 * device's `ports` option (`console:c0;port:c1:org.example.0`, see `ports.ts`), which the
 * front end builds from those `-device`s. The model is `serial.ts`, a port `port.ts`, the
 * control messages `control.ts`.
 */
import { DEVICE_ID, defineVirtioDevice } from '@emuhost/virtio';
import { parsePorts } from './ports.js';
import { createSerial, type SerialState } from './serial.js';

/** QEMU's limit: two queues per port and two control queues within 1024 queues. */
const MAX_PORTS = 511;

export default defineVirtioDevice<SerialState>({
  deviceId: DEVICE_ID.CONSOLE,
  pciClass: 0x078000,
  options: {
    ports: {
      type: 'string',
      default: '',
      description:
        "the ports, as KIND[@NR]:CHARDEV[:NAME] separated by ';' (KIND console: virtconsole, port: virtserialport); -device virtconsole/virtserialport fill it",
    },
    max_ports: {
      type: 'number',
      default: 31,
      description: 'the most ports the driver makes queues for (1..511)',
    },
    'emergency-write': {
      type: 'boolean',
      default: true,
      description:
        'offer VIRTIO_CONSOLE_F_EMERG_WRITE: one byte to port 0 through the configuration space',
    },
  },
  stateVersion: 1,
  create(host, saved) {
    const o = host.ctx.options;
    const maxPorts = o.max_ports as number;
    if (!Number.isInteger(maxPorts) || maxPorts < 1 || maxPorts > MAX_PORTS)
      throw new Error(`virtio-serial: max_ports must be 1..${MAX_PORTS}, not ${maxPorts}`);
    const ports = parsePorts(String(o.ports ?? ''), maxPorts);
    return createSerial(
      host,
      (id) => host.ctx.chardev!(id),
      { ports, maxPorts, emergencyWrite: o['emergency-write'] !== false },
      saved,
    );
  },
});
