/**
 * QEMU's virtio-serial bus children as emuhost sees them. In QEMU, `-device virtconsole` and
 * `-device virtserialport` are devices on a `virtio-serial-bus` that a virtio-serial device
 * provides; emuhost's devices have no children, so each child becomes an entry of its parent's
 * `ports` option (the format is plugins/virtio-serial/src/ports.ts's) and the child is not a
 * device of its own. The parent is the one its `bus=ID.0` names, or else the first
 * virtio-serial device given before it, as QEMU finds a bus for a device without `bus=`.
 */
import { ArgvError, type DeviceArg } from './qemu-argv.js';

const PARENTS = new Set(['virtio-serial-pci', 'virtio-serial-device', 'virtio-serial']);
const CHILDREN: Readonly<Record<string, 'console' | 'port'>> = {
  virtconsole: 'console',
  virtserialport: 'port',
};
/** The bus children, as `-device help` lists them. */
export const SERIAL_PORT_DEVICES: Readonly<Record<string, string>> = {
  virtconsole:
    "a virtio-serial device's console port (the guest's /dev/hvcN): chardev=ID[,name=N][,nr=K][,bus=SERIAL.0]",
  virtserialport:
    "a virtio-serial device's named port (the guest's /dev/vportNpM): chardev=ID,name=N[,nr=K][,bus=SERIAL.0]",
};

/** The properties QEMU's virtio-serial ports have. */
const PORT_PROPS = new Set(['chardev', 'name', 'nr', 'id', 'bus']);

/** `devices` with every virtconsole/virtserialport folded into its parent's `ports`. */
export function foldSerialPorts(devices: readonly DeviceArg[]): DeviceArg[] {
  const out: { driver: string; props: Record<string, string> }[] = [];
  const parents: Record<string, string>[] = [];
  for (const dev of devices) {
    const kind = CHILDREN[dev.driver];
    if (kind === undefined) {
      const d = { driver: dev.driver, props: { ...dev.props } };
      out.push(d);
      if (PARENTS.has(dev.driver)) parents.push(d.props);
      continue;
    }
    const what = `-device ${dev.driver}`;
    for (const k of Object.keys(dev.props))
      if (!PORT_PROPS.has(k))
        throw new ArgvError(`${what}: Property '${dev.driver}.${k}' not found`);
    const { chardev, name, nr, bus } = dev.props;
    const parent =
      bus === undefined
        ? parents[0]
        : parents.find((p) => p.id !== undefined && (bus === `${p.id}.0` || bus === p.id));
    if (parent === undefined)
      throw new ArgvError(
        bus === undefined
          ? `${what}: No 'virtio-serial-bus' bus found for device '${dev.driver}' (give -device virtio-serial-pci first)`
          : `${what}: Bus '${bus}' not found`,
      );
    if (chardev === undefined || chardev === '')
      throw new ArgvError(`${what}: emuhost needs chardev=ID (a -chardev) for every port`);
    if (nr !== undefined && !/^\d+$/.test(nr))
      throw new ArgvError(`${what}: nr must be a port number, not '${nr}'`);
    if (/[;:]/.test(chardev) || name?.includes(';'))
      throw new ArgvError(`${what}: a chardev id has no ':' or ';', a name no ';'`);
    const entry = `${kind}${nr === undefined ? '' : `@${nr}`}:${chardev}${name ? `:${name}` : ''}`;
    parent.ports = parent.ports ? `${parent.ports};${entry}` : entry;
  }
  return out;
}
