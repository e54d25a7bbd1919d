/**
 * virtio-serial through the virtio guest driver, as Linux's virtio_console drives it: the
 * control exchange (DEVICE_READY, DEVICE_ADD, PORT_READY, CONSOLE_PORT, PORT_NAME,
 * PORT_OPEN), data both ways on a console and a named port, input held in the backend until
 * the guest opens its end, emergency write, the driver's mistakes ignored, a hot reload with
 * a receive buffer held, and the conformance kits.
 */
import { fileURLToPath } from 'node:url';
import {
  bareMachine,
  CharChannel,
  Emulator,
  type LoadedPlugin,
  mmioSlotMachine,
  reloadDevice,
} from '@emuhost/host';
import type { CharBackend, CharFrontend, OptionValue } from '@emuhost/sdk';
import {
  createDriver,
  deviceConformance,
  type GuestQueue,
  loadPluginDir,
  VIRTIO_F,
  VIRTIO_STATUS,
  virtioConformance,
  virtioMmioGuest,
  virtioPciGuest,
} from '@emuhost/testing';
import { describe, expect, it } from 'vitest';
import { EVENT } from './control.js';
import { parsePorts } from './ports.js';

const PLUGIN_DIR = fileURLToPath(new URL('..', import.meta.url));
let plugin: Promise<LoadedPlugin> | undefined;
const loadSerial = () => {
  plugin ??= loadPluginDir(PLUGIN_DIR);
  return plugin;
};

const MULTIPORT = 1n << 1n;
const VERSION_1 = 1n << BigInt(VIRTIO_F.VERSION_1);
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

async function setup(options: Record<string, OptionValue> = {}) {
  const out: Record<string, string> = { c0: '', c1: '' };
  // Delivery after `ready` runs when the test pumps, as a run loop runs it between slices.
  const deferred: (() => void)[] = [];
  const chans = new Map(
    ['c0', 'c1'].map((id) => [
      id,
      new CharChannel({
        output: (b) => {
          out[id] += text(b);
        },
        defer: (fn) => deferred.push(fn),
      }),
    ]),
  );
  const emu = new Emulator({
    machine: bareMachine(),
    ramSize: 64 << 20,
    log: () => {},
    backends: { chardevs: chans },
  });
  emu.addDevice(await loadSerial(), {
    id: 'ser0',
    options: { ports: 'console:c0;port:c1:org.example.0', max_ports: 4, ...options },
  });
  const d = createDriver(emu);
  const g = virtioPciGuest(d, d.pciFind(0x1af4, 0x1043)!, 0x100000);
  const pump = () => {
    for (let f = deferred.shift(); f !== undefined; f = deferred.shift()) f();
  };
  return { emu, d, g, out, chans, pump };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** A driver past DRIVER_OK with port 0's, the control and port 1's queues. */
function bringUp(t: Setup, features = VERSION_1 | MULTIPORT) {
  if (!t.g.negotiate(features)) throw new Error('FEATURES_OK refused');
  const qs: GuestQueue[] = [];
  const n = features & MULTIPORT ? 6 : 2;
  for (let q = 0; q < n; q++) qs.push(t.g.setupQueue(q));
  t.g.driverOk();
  /** Buffer addresses of the chains posted, by queue and head. */
  const posted = new Map<string, number>();
  const post = (q: number, len: number) => {
    const addr = t.g.alloc(len);
    posted.set(`${q}:${qs[q]!.add([{ addr, len, write: true }])}`, addr);
    t.g.notify(q);
  };
  /** What the device gave back on receive queue `q`. */
  const received = (q: number) => {
    const got: Uint8Array[] = [];
    for (let u = qs[q]!.takeUsed(); u !== undefined; u = qs[q]!.takeUsed())
      got.push(t.d.memread(posted.get(`${q}:${u.id}`)!, u.len));
    return got;
  };
  const control = () =>
    received(2).map((b) => {
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const m = {
        id: v.getUint32(0, true),
        event: v.getUint16(4, true),
        value: v.getUint16(6, true),
      };
      return b.length > 8 ? { ...m, name: text(b.subarray(8)) } : m;
    });
  const send = (q: number, bytes: Uint8Array) => {
    const addr = t.g.alloc(bytes.length);
    t.d.memwrite(addr, bytes);
    qs[q]!.add([{ addr, len: bytes.length, write: false }]);
    t.g.notify(q);
    return qs[q]!.takeUsed();
  };
  const ctrl = (id: number, event: number, value: number) => {
    const b = new Uint8Array(8);
    const v = new DataView(b.buffer);
    v.setUint32(0, id, true);
    v.setUint16(4, event, true);
    v.setUint16(6, value, true);
    return send(3, b);
  };
  return { qs, post, received, control, send, ctrl };
}

/** Brought up as Linux does it: DEVICE_READY, then PORT_READY for every port added. */
function handshake(t: Setup) {
  const b = bringUp(t);
  for (let i = 0; i < 8; i++) b.post(2, 64);
  b.ctrl(0, EVENT.DEVICE_READY, 1);
  const added = b.control();
  for (const m of added) b.ctrl(m.id, EVENT.PORT_READY, 1);
  return { ...b, added, announced: b.control() };
}

describe('virtio-serial-pci', { timeout: 60_000 }, () => {
  it('is 1af4:1043 (communication), MULTIPORT and EMERG_WRITE, max_nr_ports in its config', async () => {
    const t = await setup();
    expect(t.g.deviceFeatures() & 0xffffffn).toBe(0b110n);
    expect(t.g.config32(4)).toBe(4);
    expect(t.g.queueMax(0)).toBe(128);
    expect(t.g.queueMax(2)).toBe(32);
    expect(t.g.common16(0x12), 'num_queues: (max_ports + 1) * 2').toBe(10);
  });

  it('announces its ports over the control queue as QEMU does', async () => {
    const t = await setup();
    const h = handshake(t);
    expect(h.added).toEqual([
      { id: 0, event: EVENT.DEVICE_ADD, value: 1 },
      { id: 1, event: EVENT.DEVICE_ADD, value: 1 },
    ]);
    expect(h.announced).toEqual([
      { id: 0, event: EVENT.CONSOLE_PORT, value: 1 },
      { id: 0, event: EVENT.PORT_OPEN, value: 1 },
      { id: 1, event: EVENT.PORT_NAME, value: 1, name: 'org.example.0' },
      { id: 1, event: EVENT.PORT_OPEN, value: 1 },
    ]);
  });

  it('carries bytes both ways; input waits in the backend until the guest opens its end', async () => {
    const t = await setup();
    const h = handshake(t);
    h.post(0, 32);
    t.chans.get('c0')!.input(Buffer.from('early'));
    t.pump();
    expect(h.received(0), 'port 0 is not open in the guest yet').toEqual([]);
    expect(t.chans.get('c0')!.pendingInput).toBe(5);
    h.ctrl(0, EVENT.PORT_OPEN, 1);
    t.pump();
    expect(h.received(0).map(text)).toEqual(['early']);
    expect(h.send(1, Buffer.from('hello hvc0'))).toMatchObject({ len: 0 });
    expect(t.out.c0).toBe('hello hvc0');
    h.ctrl(1, EVENT.PORT_OPEN, 1);
    h.post(4, 4);
    t.chans.get('c1')!.input(Buffer.from('abcdefgh'));
    expect(h.received(4).map(text), 'one buffer of 4: the rest waits').toEqual(['abcd']);
    h.post(4, 16);
    t.pump();
    expect(h.received(4).map(text)).toEqual(['efgh']);
    h.send(5, Buffer.from('to port 1'));
    expect(t.out.c1).toBe('to port 1');
    expect(t.out.c0).toBe('hello hvc0');
  });

  it('without MULTIPORT, port 0 is the console on queues 0 and 1 with no control exchange', async () => {
    const t = await setup();
    const b = bringUp(t, VERSION_1);
    b.post(0, 8);
    t.chans.get('c0')!.input(Buffer.from('hi'));
    expect(b.received(0).map(text)).toEqual(['hi']);
    b.send(1, Buffer.from('yo'));
    expect(t.out.c0).toBe('yo');
  });

  it('emergency write sends one byte to port 0, before any negotiation; off, nothing', async () => {
    const t = await setup();
    t.g.configWrite8(8, 0x41);
    expect(t.out.c0).toBe('A');
    const off = await setup({ 'emergency-write': false });
    expect(off.g.deviceFeatures() & 0b100n).toBe(0n);
    off.g.configWrite8(8, 0x41);
    expect(off.out.c0).toBe('');
  });

  it("ignores the driver's mistakes: short messages, unknown ports and events", async () => {
    const t = await setup();
    const h = handshake(t);
    expect(h.send(3, new Uint8Array(4))).toMatchObject({ len: 0 });
    h.ctrl(9, EVENT.PORT_READY, 1);
    h.ctrl(9, EVENT.PORT_OPEN, 1);
    h.ctrl(0, 77, 1);
    expect(h.control()).toEqual([]);
    expect(t.g.status & VIRTIO_STATUS.NEEDS_RESET).toBe(0);
    h.send(1, Buffer.from('still fine'));
    expect(t.out.c0).toBe('still fine');
  });

  it('data for a port that does not exist is taken and dropped', async () => {
    const t = await setup({ ports: 'port:c1:x' });
    const b = bringUp(t);
    expect(b.send(1, Buffer.from('nobody'))).toMatchObject({ len: 0 });
    expect(`${t.out.c0}${t.out.c1}`).toBe('');
  });

  it('a hot reload with a receive buffer held and messages pending loses nothing', async () => {
    // A backend that asks for room without sending: the device then holds a popped buffer.
    let frontend: CharFrontend | undefined;
    let out = '';
    const probe: CharBackend = {
      write: (b) => {
        out += text(b);
      },
      connect: (f) => {
        frontend = f;
      },
      ready: () => {},
    };
    const emu = new Emulator({
      machine: bareMachine(),
      ramSize: 64 << 20,
      log: () => {},
      backends: { chardevs: new Map([['c0', probe]]) },
    });
    emu.addDevice(await loadSerial(), { id: 'ser0', options: { ports: 'console:c0' } });
    const d = createDriver(emu);
    const g = virtioPciGuest(d, d.pciFind(0x1af4, 0x1043)!, 0x100000);
    const h = handshake({ emu, d, g, out: {}, chans: new Map(), pump: () => {} });
    h.ctrl(0, EVENT.PORT_OPEN, 1);
    h.post(0, 16);
    expect(frontend!.canReceive()).toBe(16);
    // Five control buffers are left after the handshake: the sixth DEVICE_ADD waits.
    for (let i = 0; i < 6; i++) h.ctrl(0, EVENT.DEVICE_READY, 1);
    expect(h.control().length).toBe(5);
    const report = reloadDevice(emu, 'ser0', await loadSerial());
    expect(report.outcome).toBe('reloaded');
    expect(report.warnings).toEqual([]);
    expect(frontend!.canReceive(), 'the same buffer, found again').toBe(16);
    frontend!.receive(Buffer.from('after'));
    expect(h.received(0).map(text)).toEqual(['after']);
    h.send(1, Buffer.from('out'));
    expect(out).toBe('out');
    h.post(2, 64);
    expect(h.control()).toEqual([{ id: 0, event: EVENT.DEVICE_ADD, value: 1 }]);
  });

  it('refuses bad ports and max_ports when the device is made', async () => {
    await expect(setup({ max_ports: 0 })).rejects.toThrow(/max_ports/);
    await expect(setup({ ports: 'console:nope' })).rejects.toThrow(/nope/);
    await expect(setup({ ports: 'tty:c0' })).rejects.toThrow(/KIND/);
  });
});

describe('virtio-serial-device', { timeout: 60_000 }, () => {
  it('runs the same exchange on a virtio-mmio slot (device id 3)', async () => {
    const out: Record<string, string> = { c0: '' };
    const c0 = new CharChannel({
      output: (b) => {
        out.c0 += text(b);
      },
    });
    const emu = new Emulator({
      machine: mmioSlotMachine(),
      ramSize: 64 << 20,
      log: () => {},
      backends: { chardevs: new Map([['c0', c0]]) },
    });
    emu.addDevice(await loadSerial(), {
      id: 'ser0',
      platform: true,
      options: { ports: 'console:c0', max_ports: 2 },
    });
    const d = createDriver(emu);
    expect(d.readl(0x10001008), 'DeviceID').toBe(3);
    const g = virtioMmioGuest(d, 0x10001000, 0x80100000);
    const h = handshake({ emu, d, g, out, chans: new Map(), pump: () => {} });
    expect(h.announced.map((m) => m.event)).toEqual([EVENT.CONSOLE_PORT, EVENT.PORT_OPEN]);
    h.ctrl(0, EVENT.PORT_OPEN, 1);
    h.post(0, 16);
    c0.input(Buffer.from('in'));
    expect(h.received(0).map(text)).toEqual(['in']);
    h.send(1, Buffer.from('out'));
    expect(out.c0).toBe('out');
  });
});

describe('sandbox levels', { timeout: 60_000 }, () => {
  it.each(['confined', 'isolated'] as const)(
    'works %s (the membrane carries the backends both ways)',
    async (level) => {
      const p = await loadPluginDir(PLUGIN_DIR, { level });
      const out: Record<string, string> = { c0: '' };
      const c0 = new CharChannel({
        output: (b) => {
          out.c0 += text(b);
        },
      });
      const emu = new Emulator({
        machine: bareMachine(),
        ramSize: 64 << 20,
        log: () => {},
        backends: { chardevs: new Map([['c0', c0]]) },
      });
      emu.addDevice(p, { id: 'ser0', options: { ports: 'console:c0:con', max_ports: 2 } });
      const d = createDriver(emu);
      const g = virtioPciGuest(d, d.pciFind(0x1af4, 0x1043)!, 0x100000);
      const h = handshake({ emu, d, g, out, chans: new Map(), pump: () => {} });
      expect(h.announced[1]).toMatchObject({ event: EVENT.PORT_NAME, name: 'con' });
      h.ctrl(0, EVENT.PORT_OPEN, 1);
      h.post(0, 16);
      c0.input(Buffer.from('in'));
      expect(h.received(0).map(text)).toEqual(['in']);
      h.send(1, Buffer.from('out'));
      expect(out.c0).toBe('out');
    },
  );
});

describe('the ports option', () => {
  it.each([
    ['console:c0', [{ nr: 0, kind: 'console', chardev: 'c0', name: '' }]],
    [
      'port:c1:org.example.0;console:c0',
      [
        { nr: 0, kind: 'console', chardev: 'c0', name: '' },
        { nr: 1, kind: 'port', chardev: 'c1', name: 'org.example.0' },
      ],
    ],
    [
      'console:a;console:b:x:y',
      [
        { nr: 0, kind: 'console', chardev: 'a', name: '' },
        { nr: 1, kind: 'console', chardev: 'b', name: 'x:y' },
      ],
    ],
    [
      'port:a; port@1:b',
      [
        { nr: 1, kind: 'port', chardev: 'b', name: '' },
        { nr: 2, kind: 'port', chardev: 'a', name: '' },
      ],
    ],
    ['', []],
  ])('%j', (input, want) => {
    expect(parsePorts(input, 31)).toEqual(want);
  });

  it.each([
    ['port@0:a', /reserved for virtconsole/],
    ['port@31:a', /past max_ports/],
    ['port@2:a;console@2:b', /used twice/],
    ['port:a;port:a', /two ports/],
    ['port:a:n;port:b:n', /already exists/],
    ['port:a;port:b', /no free port number/],
    ['console', /KIND/],
  ])('%j is refused', (input, why) => {
    expect(() => parsePorts(input, input === 'port:a;port:b' ? 2 : 31)).toThrow(why);
  });
});

describe('conformance', () => {
  // Two ports (six queues) with backends: the kit sets up every queue of every case in 64 MiB.
  const kit = {
    plugin: PLUGIN_DIR,
    options: { max_ports: 2, ports: 'console:c0;port:c1:org.example.0' },
    backends: {
      chardevs: new Map(['c0', 'c1'].map((id) => [id, new CharChannel({ output: () => {} })])),
    },
  };
  deviceConformance(kit);
  virtioConformance(kit);
});
