/**
 * The network backends without a machine: the hub's routing and its delivery in virtual time
 * (a fake clock), `-netdev hub` joining processes' NICs over a Unix socket (here: several
 * netdevs of this process, each with its own socket), `-netdev stream` speaking QEMU's framing
 * to a raw socket, and broken peers.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NetFrontend } from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { MAX_PENDING, type NetClock, NetHub } from './net-hub.js';
import { type OpenNetdev, openNetdev } from './netdev.js';

/** A NIC that takes every frame and remembers it. */
function sink(room = () => true) {
  const got: number[][] = [];
  const links: boolean[] = [];
  const f: NetFrontend = {
    canReceive: room,
    receive: (frame) => {
      got.push([...frame]);
    },
    linkChanged: (up) => {
      links.push(up);
    },
  };
  return { f, got, links };
}

/** A virtual clock with timers, as the machine's (fires due timers on `step`). */
function fakeClock() {
  const timers: { deadline: number; pending: boolean; cb: () => void }[] = [];
  const clock: NetClock & { now: number; step(ns: number): void } = {
    now: 0,
    createTimer(cb) {
      const t = {
        deadline: -1,
        pending: false,
        cb,
        armAt(ns: number) {
          t.deadline = Math.max(ns, clock.now);
          t.pending = true;
        },
        cancel() {
          t.pending = false;
        },
      };
      timers.push(t);
      return t;
    },
    step(ns: number) {
      const end = clock.now + ns;
      for (;;) {
        const due = timers
          .filter((t) => t.pending && t.deadline <= end)
          .sort((a, b) => a.deadline - b.deadline)[0];
        if (due === undefined) break;
        clock.now = due.deadline;
        due.pending = false;
        due.cb();
      }
      clock.now = end;
    },
  };
  return clock;
}

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};
const sockPath = (name: string) => join(mkdtempSync(join(tmpdir(), 'emuhost-net-')), name);

describe('NetHub', () => {
  it('routes every frame to every other member, each its own copy, never back', () => {
    const hub = new NetHub({ latencyNs: 500 });
    const clock = fakeClock();
    const ports = [hub.port('a'), hub.port('b'), hub.port('c')];
    const sinks = ports.map((p) => {
      const s = sink();
      p.attach(clock);
      p.connect(s.f);
      return s;
    });
    const frame = Uint8Array.of(1, 2, 3);
    ports[0]!.send(frame);
    frame[0] = 9;
    clock.step(499);
    expect(sinks.map((s) => s.got.length)).toEqual([0, 0, 0]);
    clock.step(1);
    expect(sinks.map((s) => s.got)).toEqual([[], [[1, 2, 3]], [[1, 2, 3]]]);
  });

  it('frames wait for room and then come in order; past MAX_PENDING they are dropped', () => {
    const hub = new NetHub({ latencyNs: 0 });
    const clock = fakeClock();
    const [a, b] = [hub.port('a'), hub.port('b')];
    let room = false;
    const s = sink(() => room);
    b.attach(clock);
    b.connect(s.f);
    for (let i = 0; i < MAX_PENDING + 5; i++) a.send(Uint8Array.of(i & 0xff));
    clock.step(10);
    expect(s.got).toEqual([]);
    expect(b.pending).toBe(MAX_PENDING);
    expect(b.stats.dropped).toBe(5);
    room = true;
    b.ready();
    clock.step(0);
    expect(s.got.length).toBe(MAX_PENDING);
    expect(s.got.slice(0, 3)).toEqual([[0], [1], [2]]);
  });

  it('set_link: the NIC is told; frames are dropped both ways while down', () => {
    const hub = new NetHub({ latencyNs: 0 });
    const clock = fakeClock();
    const [a, b] = [hub.port('a'), hub.port('b')];
    const sa = sink();
    const sb = sink();
    a.attach(clock);
    b.attach(clock);
    a.connect(sa.f);
    b.connect(sb.f);
    b.setLink(false);
    expect(sb.links).toEqual([false]);
    expect(b.linkUp).toBe(false);
    a.send(Uint8Array.of(1));
    b.send(Uint8Array.of(2));
    clock.step(1);
    expect([sa.got, sb.got]).toEqual([[], []]);
    b.setLink(true);
    a.send(Uint8Array.of(3));
    clock.step(1);
    expect(sb.got).toEqual([[3]]);
  });
});

describe('-netdev hub over a Unix socket', { timeout: 60_000 }, () => {
  it('the first opener serves, the others join; the server relays among all', async () => {
    const path = sockPath('lan.sock');
    const nets: OpenNetdev[] = [];
    for (const id of ['a', 'b', 'c']) nets.push(await openNetdev({ kind: 'hub', id, path }));
    expect(nets.map((n) => /role=(\w+)/.exec(n.describe())![1])).toEqual([
      'server',
      'client',
      'client',
    ]);
    const sinks = nets.map((n) => {
      const s = sink();
      n.port.connect(s.f);
      return s;
    });
    await until(() => nets[0]!.describe().includes('peers=2'));
    nets[1]!.port.send(Uint8Array.of(7, 7));
    await until(() => sinks[0]!.got.length === 1 && sinks[2]!.got.length === 1);
    nets[0]!.port.send(Uint8Array.of(8));
    await until(() => sinks[1]!.got.length === 1 && sinks[2]!.got.length === 2);
    expect(sinks.map((s) => s.got)).toEqual([[[7, 7]], [[8]], [[7, 7], [8]]]);
    for (const n of nets.reverse()) n.close();
  });

  it('a stale file at the path is replaced by a server', async () => {
    const path = sockPath('stale.sock');
    writeFileSync(path, 'not a socket');
    const n = await openNetdev({ kind: 'hub', id: 'a', path });
    expect(n.describe()).toContain('role=server');
    n.close();
  });
});

describe('-netdev stream (QEMU framing)', { timeout: 60_000 }, () => {
  it('server=on: a raw client sends and receives 4-byte big-endian lengths and frames', async () => {
    const path = sockPath('s.sock');
    const n = await openNetdev({ kind: 'stream', id: 's', server: true, path });
    const s = sink();
    n.port.connect(s.f);
    const c = createConnection({ path });
    const got: Buffer[] = [];
    c.on('data', (d: Buffer) => got.push(d));
    await new Promise((r) => c.once('connect', r));
    c.write(Buffer.from([0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 1]));
    c.write(Buffer.from([4]));
    await until(() => s.got.length === 2);
    expect(s.got).toEqual([[1, 2, 3], [4]]);
    await until(() => n.describe().includes('peers=1'));
    n.port.send(Uint8Array.of(5, 6));
    await until(() => Buffer.concat(got).length === 6);
    expect([...Buffer.concat(got)]).toEqual([0, 0, 0, 2, 5, 6]);
    c.destroy();
    n.close();
  });

  it('server=off connects to a listener; with nobody listening it fails as QEMU', async () => {
    const path = sockPath('c.sock');
    await expect(openNetdev({ kind: 'stream', id: 's', server: false, path })).rejects.toThrow(
      /Failed to connect to '.*c\.sock'/,
    );
    const peers: Socket[] = [];
    const server = createServer((p) => peers.push(p));
    await new Promise<void>((r) => server.listen(path, r));
    const n = await openNetdev({ kind: 'stream', id: 's', server: false, path });
    await until(() => peers.length === 1);
    n.port.send(Uint8Array.of(1));
    const chunk = await new Promise<Buffer>((r) => peers[0]!.once('data', r));
    expect([...chunk]).toEqual([0, 0, 0, 1, 1]);
    n.close();
    server.close();
  });

  it('a peer sending a frame of length 0 is dropped with a warning; the netdev goes on', async () => {
    const path = sockPath('b.sock');
    const warnings: string[] = [];
    const n = await openNetdev(
      { kind: 'stream', id: 's', server: true, path },
      { warn: (t) => warnings.push(t) },
    );
    const c = createConnection({ path });
    await new Promise((r) => c.once('connect', r));
    c.write(Buffer.from([0, 0, 0, 0]));
    await until(() => warnings.length === 1);
    expect(warnings[0]).toMatch(/peer dropped: a frame of 0 bytes/);
    expect(n.describe()).toContain('peers=0');
    n.close();
  });
});
