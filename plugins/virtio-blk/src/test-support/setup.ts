/**
 * Test support: a machine with a raw image as drive `d0` and virtio-blk on it, a virtio guest
 * driver for it, and the request helpers (header, data, status) a guest block driver uses.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bareMachine, Emulator, type LoadedPlugin } from '@emuhost/host';
import type { OptionValue } from '@emuhost/sdk';
import {
  createDriver,
  type Driver,
  type GuestQueue,
  loadPluginDir,
  VIRTIO_F,
  type VirtioGuest,
  virtioPciGuest,
} from '@emuhost/testing';

/** The plugin's directory (a bundled child process, whose import.meta.url is its bundle's, sets it). */
export const PLUGIN_DIR =
  process.env.EMUHOST_BLK_PLUGIN_DIR ?? fileURLToPath(new URL('../..', import.meta.url));
export const SECTOR = 512;
export const T = { IN: 0, OUT: 1, FLUSH: 4, GET_ID: 8, DISCARD: 11, WRITE_ZEROES: 13 } as const;
export const S = { OK: 0, IOERR: 1, UNSUPP: 2 } as const;

let plugin: Promise<LoadedPlugin> | undefined;
export const loadBlk = (): Promise<LoadedPlugin> => {
  plugin ??= loadPluginDir(PLUGIN_DIR);
  return plugin;
};

/** A fresh image file of `size` bytes filled with `fill(i)`. */
export function makeImage(size: number, fill: (i: number) => number = () => 0): string {
  const dir = mkdtempSync(join(tmpdir(), 'emuhost-blk-'));
  const file = join(dir, 'disk.img');
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = fill(i);
  writeFileSync(file, b);
  return file;
}

export interface BlkSetup {
  readonly emu: Emulator;
  readonly d: Driver;
  readonly g: VirtioGuest;
  readonly q: GuestQueue;
  readonly file: string;
}

export const FEATURES =
  (1n << BigInt(VIRTIO_F.VERSION_1)) |
  (1n << BigInt(VIRTIO_F.INDIRECT_DESC)) |
  (1n << 9n) /* FLUSH */ |
  (1n << 13n) |
  (1n << 14n);

/** A bare machine (MSI window, VT-d-less) with the drive and the device, negotiated and ready. */
export async function setup(
  o: {
    options?: Record<string, OptionValue>;
    readOnly?: boolean;
    size?: number;
    features?: bigint;
    file?: string;
  } = {},
): Promise<BlkSetup> {
  const file = o.file ?? makeImage(o.size ?? 1 << 20);
  const emu = new Emulator({
    machine: bareMachine(),
    ramSize: 64 << 20,
    log: (level, source, message) => {
      if (process.env.BLK_LOG) console.log(level, source, message);
    },
    backends: { drives: [{ id: 'd0', file, ...(o.readOnly === true && { readOnly: true }) }] },
  });
  emu.addDevice(await loadBlk(), { id: 'blk0', options: { drive: 'd0', ...o.options } });
  const d = createDriver(emu);
  const g = virtioPciGuest(d, d.pciFind(0x1af4, 0x1042)!, 0x100000);
  if (!g.negotiate(o.features ?? FEATURES)) throw new Error('FEATURES_OK refused');
  const q = g.setupQueue(0);
  g.driverOk();
  return { emu, d, g, q, file };
}

/** Writes a request header at a fresh address; returns it. */
export function header(t: BlkSetup, type: number, sector: number): number {
  const a = t.g.alloc(16);
  t.d.writel(a, type);
  t.d.writel(a + 4, 0);
  t.d.writeq(a + 8, BigInt(sector));
  return a;
}

/** Submits header (+ data) + status as one chain, notifies, returns the status and used length. */
export function request(
  t: BlkSetup,
  type: number,
  sector: number,
  data?: { readonly addr: number; readonly len: number; readonly write: boolean },
  o: { indirect?: boolean } = {},
): { status: number; len: number; head: number } {
  const h = header(t, type, sector);
  const st = t.g.alloc(1);
  t.d.writeb(st, 0xff);
  const bufs = [
    { addr: h, len: 16, write: false },
    ...(data === undefined ? [] : [data]),
    { addr: st, len: 1, write: true },
  ];
  const head = o.indirect ? t.q.addIndirect(bufs, t.g.alloc(16 * bufs.length, 16)) : t.q.add(bufs);
  t.g.notify(0);
  const used = t.q.takeUsed();
  if (used === undefined) throw new Error('the request was not completed');
  if (used.id !== head) throw new Error(`used id ${used.id}, expected ${head}`);
  return { status: t.d.readb(st), len: used.len, head };
}

export const pattern = (len: number, seed: number) =>
  Uint8Array.from({ length: len }, (_, i) => (i * 13 + seed * 7 + (i >> 9)) & 0xff);
