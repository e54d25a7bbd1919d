/**
 * Two reference guests on one network (issue 18): two virt machines in this process, each
 * with a virtio-net-pci NIC on an in-process hub, run in lockstep. Debian's stock kernel loads
 * virtio_net (a module from the guest cache, the `net` initramfs), busybox configures
 * 10.0.0.1 and 10.0.0.2, and each guest pings the other. A pcap capture of one port has the
 * ICMP echo requests and replies; a second run prints byte for byte the same consoles and
 * writes the same capture (frames are delivered in virtual time).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGuest, type GuestFiles } from '@emuhost/guest';
import { DEFAULT_LATENCY_NS, NetHub, PcapWriter, readPcap } from '@emuhost/host';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BootResult, bootVirtLockstep } from './test-support/boot.js';

const MINUTES = 60_000;

describe('two Debian guests ping each other over an in-process hub', () => {
  let guest: GuestFiles;
  let first: { results: BootResult[]; pcap: Uint8Array };

  const run = async () => {
    const hub = new NetHub();
    const ports = [hub.port('n0'), hub.port('n0')];
    const file = join(mkdtempSync(join(tmpdir(), 'emuhost-net-')), 'cap.pcap');
    const cap = new PcapWriter(file);
    ports[0]!.taps.push(cap);
    const machine = (i: number) => ({
      bios: new Uint8Array(readFileSync(guest.opensbi.fwDynamic)),
      kernel: new Uint8Array(readFileSync(guest.kernel.image)),
      initrd: new Uint8Array(readFileSync(guest.initramfs.net!)),
      cmdline: `console=ttyS0 earlycon emuhost.ip=10.0.0.${i + 1} emuhost.peer=10.0.0.${2 - i}`,
      ramSize: 256 << 20,
      maxInstructions: 8e9,
      backends: { netdevs: new Map([['n0', ports[i]!]]) },
      devices: [
        {
          plugin: 'virtio-net-pci',
          options: {
            netdev: 'n0',
            mac: `52:54:00:12:34:0${i + 1}`,
            // One NIC as the reference devices are given, the other as QEMU's default.
            ...(i === 0 && { iommu_platform: true, 'disable-legacy': 'on' }),
          },
        },
      ],
    });
    const results = await bootVirtLockstep([machine(0), machine(1)], {
      quantumNs: DEFAULT_LATENCY_NS,
    });
    cap.close();
    return { results, pcap: new Uint8Array(readFileSync(file)) };
  };

  beforeAll(async () => {
    guest = await ensureGuest();
    first = await run();
  }, 40 * MINUTES);

  it('both guests load virtio_net, configure eth0 and power off', () => {
    for (const [i, r] of first.results.entries()) {
      expect(r.output).toContain('EMUHOST-GUEST: insmod virtio_net ok');
      expect(r.output).toContain(`EMUHOST-GUEST: eth0 mac 52:54:00:12:34:0${i + 1}`);
      expect(r.output).toContain(`EMUHOST-GUEST: eth0 inet 10.0.0.${i + 1}/24`);
      expect(r.output).toContain('EMUHOST-GUEST: eth0 carrier 1');
      expect({ outcome: r.outcome, exitCode: r.exitCode }).toEqual({
        outcome: 'poweroff',
        exitCode: 0,
      });
    }
  });

  it('each pings the other', () => {
    const [a, b] = first.results;
    expect(a!.output).toContain('EMUHOST-GUEST: ping 10.0.0.2 ok');
    expect(b!.output).toContain('EMUHOST-GUEST: ping 10.0.0.1 ok');
    expect(a!.output).toMatch(/3 packets transmitted, 3 packets received/);
  });

  it('the pcap capture has the ICMP echo requests and replies both ways', () => {
    const p = readPcap(first.pcap);
    expect(p.linktype).toBe(1);
    const icmp = p.records
      .map((r) => r.data)
      .filter((f) => f[12] === 0x08 && f[13] === 0x00 && f[14 + 9] === 1)
      .map((f) => `${f[14 + 12 + 3]}>${f[14 + 16 + 3]} ${f[34] === 8 ? 'request' : 'reply'}`);
    for (const want of ['1>2 request', '2>1 reply', '2>1 request', '1>2 reply'])
      expect(icmp.filter((x) => x === want).length, want).toBeGreaterThanOrEqual(3);
  });

  it(
    'a second run prints the same consoles and writes the same capture',
    async () => {
      const second = await run();
      for (const [i, r] of second.results.entries()) {
        expect(r.instructions).toBe(first.results[i]!.instructions);
        expect(r.output).toBe(first.results[i]!.output);
      }
      expect(Buffer.compare(second.pcap, first.pcap)).toBe(0);
    },
    40 * MINUTES,
  );
});
