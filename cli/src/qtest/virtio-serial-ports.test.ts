import { describe, expect, it } from 'vitest';
import { ArgvError, type DeviceArg } from './qemu-argv.js';
import { foldSerialPorts } from './virtio-serial-ports.js';

const dev = (driver: string, props: Record<string, string> = {}): DeviceArg => ({ driver, props });

describe('foldSerialPorts', () => {
  it("folds virtconsole and virtserialport into their bus's device, in order", () => {
    expect(
      foldSerialPorts([
        dev('virtio-serial-pci'),
        dev('virtconsole', { chardev: 'c0' }),
        dev('virtserialport', { chardev: 'c1', name: 'org.example.0', nr: '3' }),
        dev('virtio-rng-pci'),
      ]),
    ).toEqual([
      dev('virtio-serial-pci', { ports: 'console:c0;port@3:c1:org.example.0' }),
      dev('virtio-rng-pci'),
    ]);
  });

  it('bus=ID.0 picks the device; without it, the first one', () => {
    expect(
      foldSerialPorts([
        dev('virtio-serial-device', { id: 'a' }),
        dev('virtio-serial-pci', { id: 'b' }),
        dev('virtconsole', { chardev: 'c0', bus: 'b.0' }),
        dev('virtconsole', { chardev: 'c1' }),
      ]),
    ).toEqual([
      dev('virtio-serial-device', { id: 'a', ports: 'console:c1' }),
      dev('virtio-serial-pci', { id: 'b', ports: 'console:c0' }),
    ]);
  });

  it.each([
    [[dev('virtconsole', { chardev: 'c0' })], /No 'virtio-serial-bus' bus found/],
    [[dev('virtio-serial-pci'), dev('virtconsole', { chardev: 'c0', bus: 'x.0' })], /Bus 'x.0'/],
    [[dev('virtio-serial-pci'), dev('virtconsole')], /needs chardev=/],
    [[dev('virtio-serial-pci'), dev('virtconsole', { chardev: 'c', foo: '1' })], /foo' not found/],
    [[dev('virtio-serial-pci'), dev('virtserialport', { chardev: 'c', nr: 'x' })], /nr must/],
  ])('%#: refused as QEMU refuses it', (devices, why) => {
    expect(() => foldSerialPorts(devices)).toThrow(ArgvError);
    expect(() => foldSerialPorts(devices)).toThrow(why);
  });
});
