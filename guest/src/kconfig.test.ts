import { describe, expect, it } from 'vitest';
import { driverState, GUEST_DRIVERS, parseKconfig } from './kconfig.js';

const CONFIG = `#
# Automatically generated file; DO NOT EDIT.
CONFIG_VIRTIO_BLK=m
CONFIG_VIRTIO_CONSOLE=y
# CONFIG_VIRTIO_IOMMU is not set
CONFIG_HW_RANDOM_VIRTIO=m
CONFIG_LOCALVERSION=""
CONFIG_NR_CPUS=512
`;

describe('the kernel config', () => {
  const c = parseKconfig(CONFIG);
  it('reads y, m, numbers and strings; "is not set" is absent', () => {
    expect(c.get('VIRTIO_BLK')).toBe('m');
    expect(c.get('NR_CPUS')).toBe('512');
    expect(c.get('LOCALVERSION')).toBe('""');
    expect(c.has('VIRTIO_IOMMU')).toBe(false);
  });

  it('says whether a driver is built in, a module, or absent', () => {
    expect(driverState(c, 'VIRTIO_CONSOLE')).toBe('builtin');
    expect(driverState(c, 'VIRTIO_BLK')).toBe('module');
    expect(driverState(c, 'VIRTIO_IOMMU')).toBe('absent');
  });

  it('lists modules after their dependencies, and requires only what the test flavour loads', () => {
    const order = GUEST_DRIVERS.map((d) => d.module);
    expect(order.indexOf('failover')).toBeLessThan(order.indexOf('net_failover'));
    expect(order.indexOf('net_failover')).toBeLessThan(order.indexOf('virtio_net'));
    expect(GUEST_DRIVERS.filter((d) => d.required).map((d) => d.module)).toEqual([
      'virtio_blk',
      'virtio-rng',
    ]);
  });
});
