/**
 * The virtio-blk device model (virtio 1.2, 5.2) on a block backend: the configuration space
 * QEMU presents, and the requests: IN (read), OUT (write), FLUSH (an fsync of the image),
 * GET_ID (the serial), DISCARD and WRITE_ZEROES (one segment each, as QEMU's
 * max_discard_seg/max_write_zeroes_seg of 1 says). Anything else answers UNSUPP.
 *
 * Failures are the request's, the spec's way: an out-of-range or misaligned sector, a write to
 * a read-only drive, a host I/O error or a guest buffer the device cannot reach (an IOMMU
 * fault) complete the request with VIRTIO_BLK_S_IOERR. Only a chain with no room for the
 * header or the status byte makes the device need a reset (QEMU's virtio_error).
 *
 * By default requests complete before the notify returns (the backend is synchronous), so
 * none is in flight between two machine events; `x-latency-ns` makes each one complete that
 * much virtual time after it was taken (`inflight.ts`, which also says how a reload carries
 * them). With the write cache off (the driver did not negotiate FLUSH, or wrote writeback 0),
 * each write is flushed before it completes.
 */
import type { BlockBackend, BlockResult } from '@emuhost/sdk';
import {
  bit,
  type Chain,
  sgRead,
  sgWrite,
  type VirtioDevice,
  type VirtioHost,
} from '@emuhost/virtio';
import { Inflight, type InflightRequest } from './inflight.js';

export const BLK_F = {
  SIZE_MAX: 1,
  SEG_MAX: 2,
  GEOMETRY: 4,
  RO: 5,
  BLK_SIZE: 6,
  FLUSH: 9,
  TOPOLOGY: 10,
  CONFIG_WCE: 11,
  MQ: 12,
  DISCARD: 13,
  WRITE_ZEROES: 14,
} as const;

export const BLK_T = {
  IN: 0,
  OUT: 1,
  FLUSH: 4,
  GET_ID: 8,
  GET_LIFETIME: 10,
  DISCARD: 11,
  WRITE_ZEROES: 13,
  SECURE_ERASE: 14,
} as const;

export const BLK_S = { OK: 0, IOERR: 1, UNSUPP: 2 } as const;

/** struct virtio_blk_config offsets (5.2.4). */
export const BLK_CONFIG = {
  CAPACITY: 0,
  SIZE_MAX: 8,
  SEG_MAX: 12,
  GEOMETRY: 16,
  BLK_SIZE: 20,
  TOPOLOGY: 24,
  WRITEBACK: 32,
  NUM_QUEUES: 34,
  MAX_DISCARD_SECTORS: 36,
  MAX_DISCARD_SEG: 40,
  DISCARD_SECTOR_ALIGNMENT: 44,
  MAX_WRITE_ZEROES_SECTORS: 48,
  MAX_WRITE_ZEROES_SEG: 52,
  WRITE_ZEROES_MAY_UNMAP: 56,
  SIZE: 60,
} as const;

const SECTOR = 512;
/** GET_ID's answer is at most 20 bytes (VIRTIO_BLK_ID_BYTES). */
const ID_BYTES = 20;
/** The most sectors one discard or write-zeroes covers (QEMU's BDRV_REQUEST_MAX_SECTORS). */
export const MAX_DWZ_SECTORS = 0x3fffff;
/** Data moves between the image and guest memory in pieces of this size. */
const CHUNK = 1 << 20;
/** A request whose header the device could not read: it completes with IOERR. */
const UNREADABLE = -1;

export interface BlkOptions {
  readonly serial: string;
  readonly queueSize: number;
  readonly numQueues: number;
  readonly configWce: boolean;
  readonly discard: boolean;
  readonly writeZeroes: boolean;
  /** Virtual time from taking a request to completing it, in ns (0: inside the notify). */
  readonly latencyNs: number;
}

/** What the model keeps across a reload: the driver's write-cache choice, requests in flight. */
export interface BlkState {
  readonly writeback: number;
  readonly inflight: readonly InflightRequest[];
}

export function createBlk(
  host: VirtioHost,
  drive: BlockBackend,
  o: BlkOptions,
  saved: BlkState | undefined,
): VirtioDevice {
  const dma = host.dma;
  const config = new Uint8Array(BLK_CONFIG.SIZE);
  const cv = new DataView(config.buffer);
  const header = new Uint8Array(16);
  const hv = new DataView(header.buffer);
  const status = new Uint8Array(1);
  const chunk = new Uint8Array(CHUNK);

  let features =
    bit(BLK_F.SEG_MAX) |
    bit(BLK_F.GEOMETRY) |
    bit(BLK_F.BLK_SIZE) |
    bit(BLK_F.TOPOLOGY) |
    bit(BLK_F.FLUSH);
  if (o.configWce) features |= bit(BLK_F.CONFIG_WCE);
  if (drive.readOnly) features |= bit(BLK_F.RO);
  if (o.numQueues > 1) features |= bit(BLK_F.MQ);
  if (o.discard) features |= bit(BLK_F.DISCARD);
  if (o.writeZeroes) features |= bit(BLK_F.WRITE_ZEROES);

  const setCapacity = () => {
    cv.setBigUint64(BLK_CONFIG.CAPACITY, BigInt(Math.floor(drive.size / SECTOR)), true);
    // QEMU's default geometry for a virtio disk: 16 heads, 63 sectors per track.
    const cylinders = Math.min(0xffff, Math.floor(drive.size / SECTOR / (16 * 63)));
    cv.setUint16(BLK_CONFIG.GEOMETRY, cylinders, true);
  };
  setCapacity();
  cv.setUint32(BLK_CONFIG.SEG_MAX, o.queueSize - 2, true);
  cv.setUint8(BLK_CONFIG.GEOMETRY + 2, 16);
  cv.setUint8(BLK_CONFIG.GEOMETRY + 3, 63);
  cv.setUint32(BLK_CONFIG.BLK_SIZE, SECTOR, true);
  cv.setUint16(BLK_CONFIG.TOPOLOGY + 2, 1, true); // min_io_size, in logical blocks
  cv.setUint8(BLK_CONFIG.WRITEBACK, saved?.writeback ?? 1);
  cv.setUint16(BLK_CONFIG.NUM_QUEUES, o.numQueues, true);
  cv.setUint32(BLK_CONFIG.MAX_DISCARD_SECTORS, MAX_DWZ_SECTORS, true);
  cv.setUint32(BLK_CONFIG.MAX_DISCARD_SEG, 1, true);
  cv.setUint32(BLK_CONFIG.DISCARD_SECTOR_ALIGNMENT, 1, true);
  cv.setUint32(BLK_CONFIG.MAX_WRITE_ZEROES_SECTORS, MAX_DWZ_SECTORS, true);
  cv.setUint32(BLK_CONFIG.MAX_WRITE_ZEROES_SEG, 1, true);
  cv.setUint8(BLK_CONFIG.WRITE_ZEROES_MAY_UNMAP, 1);

  drive.onResize(() => {
    setCapacity();
    host.configChanged();
  });

  /** Whether completed writes must reach the disk before they complete (no write cache). */
  const writethrough = () =>
    !host.negotiated(BLK_F.FLUSH) ||
    (host.negotiated(BLK_F.CONFIG_WCE) && config[BLK_CONFIG.WRITEBACK] === 0);

  /** Whether [sector, + len bytes) is whole sectors inside the drive (virtio_blk_sect_range_ok). */
  const inRange = (sector: bigint, len: number) =>
    len % SECTOR === 0 &&
    sector <= BigInt(Math.floor(drive.size / SECTOR)) &&
    Number(sector) * SECTOR + len <= drive.size;

  const ioStatus = (r: BlockResult) => (r === 'ok' ? BLK_S.OK : BLK_S.IOERR);

  /** IN: the image into the chain's writable buffers, before the status byte. */
  const read = (c: Chain, sector: bigint): number => {
    const len = c.inLen - 1;
    if (!inRange(sector, len)) return BLK_S.IOERR;
    const base = Number(sector) * SECTOR;
    for (let done = 0; done < len; ) {
      const n = Math.min(CHUNK, len - done);
      const part = chunk.subarray(0, n);
      if (drive.read(base + done, part) !== 'ok') return BLK_S.IOERR;
      if (sgWrite(dma, c.in, done, part).error !== undefined) return BLK_S.IOERR;
      done += n;
    }
    return BLK_S.OK;
  };

  /** OUT: the chain's readable buffers after the header into the image. */
  const write = (c: Chain, sector: bigint): number => {
    const len = c.outLen - 16;
    if (!inRange(sector, len) || drive.readOnly) return BLK_S.IOERR;
    const base = Number(sector) * SECTOR;
    for (let done = 0; done < len; ) {
      const n = Math.min(CHUNK, len - done);
      const part = chunk.subarray(0, n);
      if (sgRead(dma, c.out, 16 + done, part).error !== undefined) return BLK_S.IOERR;
      if (drive.write(base + done, part) !== 'ok') return BLK_S.IOERR;
      done += n;
    }
    return writethrough() ? ioStatus(drive.flush()) : BLK_S.OK;
  };

  /** DISCARD and WRITE_ZEROES: one 16-byte segment {sector, num_sectors, flags}. */
  const discardOrZero = (c: Chain, zero: boolean): number => {
    if (!host.negotiated(zero ? BLK_F.WRITE_ZEROES : BLK_F.DISCARD)) return BLK_S.UNSUPP;
    if (c.outLen - 16 !== 16) return BLK_S.UNSUPP;
    const seg = new Uint8Array(16);
    if (sgRead(dma, c.out, 16, seg).error !== undefined) return BLK_S.IOERR;
    const sv = new DataView(seg.buffer);
    const sector = sv.getBigUint64(0, true);
    const count = sv.getUint32(8, true);
    const flags = sv.getUint32(12, true);
    // Only WRITE_ZEROES takes a flag (UNMAP); a discard with one is unsupported (as QEMU).
    if ((zero && (flags & ~1) !== 0) || (!zero && flags !== 0)) return BLK_S.UNSUPP;
    if (count > MAX_DWZ_SECTORS || !inRange(sector, count * SECTOR) || drive.readOnly)
      return BLK_S.IOERR;
    const at = Number(sector) * SECTOR;
    if (!zero) return ioStatus(drive.discardRange(at, count * SECTOR));
    chunk.fill(0);
    for (let done = 0; done < count * SECTOR; ) {
      const n = Math.min(CHUNK, count * SECTOR - done);
      if (drive.write(at + done, chunk.subarray(0, n)) !== 'ok') return BLK_S.IOERR;
      done += n;
    }
    return writethrough() ? ioStatus(drive.flush()) : BLK_S.OK;
  };

  /** GET_ID: the serial and its NUL, at most 20 bytes (QEMU's answer). */
  const getId = (c: Chain): number => {
    // Plugin realms have no TextEncoder; a serial is ASCII (others become '?').
    const id = Uint8Array.from(o.serial, (ch) => {
      const c = ch.charCodeAt(0);
      return c < 0x80 ? c : 0x3f;
    });
    const n = Math.min(id.length + 1, c.inLen - 1, ID_BYTES);
    const out = new Uint8Array(n);
    out.set(id.subarray(0, n));
    return sgWrite(dma, c.in, 0, out).error === undefined ? BLK_S.OK : BLK_S.IOERR;
  };

  /** Runs the decoded request on its chain, writes the status byte and completes the chain. */
  const finish = (q: number, c: Chain, type: number, sector: bigint): void => {
    let s: number;
    switch (type) {
      case BLK_T.IN:
        s = read(c, sector);
        break;
      case BLK_T.OUT:
        s = write(c, sector);
        break;
      case BLK_T.FLUSH:
        s = ioStatus(drive.flush());
        break;
      case BLK_T.GET_ID:
        s = getId(c);
        break;
      case BLK_T.DISCARD:
        s = discardOrZero(c, false);
        break;
      case BLK_T.WRITE_ZEROES:
        s = discardOrZero(c, true);
        break;
      case UNREADABLE:
        s = BLK_S.IOERR;
        break;
      default:
        s = BLK_S.UNSUPP;
    }
    status[0] = s;
    // The status is the chain's last writable byte; if even it cannot be written, the
    // driver still gets the chain back (with a status it cannot trust, as on hardware).
    sgWrite(dma, c.in, c.inLen - 1, status);
    host.complete(q, c.head, c.inLen);
  };

  const requests = (n: number) => `${n} request${n === 1 ? '' : 's'}`;
  const inflight = new Inflight(host, finish, saved?.inflight ?? [], (n) =>
    host.ctx.log.info(`completed the ${requests(n)} in flight the previous code had taken`),
  );
  if (inflight.size > 0)
    host.ctx.log.info(`carried ${requests(inflight.size)} in flight over from the previous code`);

  /** Takes a request off the ring: its header now, the work now or after the latency. */
  const take = (q: number, c: Chain): void => {
    if (c.outLen < 16 || c.inLen < 1) {
      host.fail(`virtio-blk: a request without room for its header or status (chain ${c.head})`);
      return;
    }
    const ok = sgRead(dma, c.out, 0, header).error === undefined;
    const type = ok ? hv.getUint32(0, true) : UNREADABLE;
    const sector = ok ? hv.getBigUint64(8, true) : 0n;
    if (o.latencyNs > 0) inflight.add(q, c, type, sector, o.latencyNs);
    else finish(q, c, type, sector);
  };

  return {
    features,
    queueSizes: new Array(o.numQueues).fill(o.queueSize),
    config,
    configWrite(offset, size, value) {
      // Only the write-cache byte is writable, and only with CONFIG_WCE (QEMU's set_config).
      if (offset <= BLK_CONFIG.WRITEBACK && offset + size > BLK_CONFIG.WRITEBACK && o.configWce)
        config[BLK_CONFIG.WRITEBACK] = (value >>> (8 * (BLK_CONFIG.WRITEBACK - offset))) & 1;
    },
    queueNotify(q) {
      for (let c = host.pop(q); c !== undefined; c = host.pop(q)) take(q, c);
    },
    reset() {
      config[BLK_CONFIG.WRITEBACK] = 1;
      inflight.clear();
    },
    saveState: (): BlkState => ({
      writeback: config[BLK_CONFIG.WRITEBACK]!,
      inflight: inflight.save(),
    }),
  };
}
