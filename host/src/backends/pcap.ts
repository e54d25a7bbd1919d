/**
 * A pcap capture of a netdev (QEMU's `-object filter-dump,id=f0,netdev=n0,file=cap.pcap`):
 * the classic libpcap format (magic 0xa1b2c3d4, version 2.4, little-endian, microsecond
 * timestamps, LINKTYPE_ETHERNET), both directions, each frame cut to `maxlen` bytes (QEMU's
 * default 65536) with its original length kept.
 *
 * Timestamps are the machine's virtual time, not the host's (QEMU writes the host's): a
 * deterministic run then writes the same file every time, and the gaps between frames are
 * what the guest saw.
 *
 * Writes are synchronous appends to a file opened at start (a capture must survive emuhost
 * being killed); a failing write stops the capture with one warning, never the machine.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { EmuhostError } from '@emuhost/sdk';
import type { NetTap } from './net-hub.js';

/** LINKTYPE_ETHERNET. */
const LINKTYPE_ETHERNET = 1;
/** QEMU's filter-dump default `maxlen`. */
export const PCAP_DEFAULT_MAXLEN = 65536;

export class PcapWriter implements NetTap {
  private fd: number | null;
  private readonly header = Buffer.alloc(16);
  /** Frames written. */
  frames = 0;

  /** Opens (truncates) `file` and writes the global header; throws `E_BAD_ARGUMENT` if it cannot. */
  constructor(
    readonly file: string,
    readonly maxlen = PCAP_DEFAULT_MAXLEN,
    private readonly warn: (text: string) => void = () => {},
  ) {
    if (!Number.isSafeInteger(maxlen) || maxlen <= 0)
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `filter-dump: maxlen must be a positive integer, not ${maxlen}`,
      );
    try {
      this.fd = openSync(file, 'w');
      const g = Buffer.alloc(24);
      g.writeUInt32LE(0xa1b2c3d4, 0);
      g.writeUInt16LE(2, 4);
      g.writeUInt16LE(4, 6);
      g.writeInt32LE(0, 8); // thiszone
      g.writeUInt32LE(0, 12); // sigfigs
      g.writeUInt32LE(maxlen, 16); // snaplen
      g.writeUInt32LE(LINKTYPE_ETHERNET, 20);
      writeSync(this.fd, g);
    } catch (e) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `filter-dump: cannot write '${file}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
  }

  frame(frame: Uint8Array, _dir: 'tx' | 'rx', ns: number): void {
    if (this.fd === null) return;
    const us = Math.floor(ns / 1000);
    const h = this.header;
    h.writeUInt32LE(Math.floor(us / 1e6) >>> 0, 0);
    h.writeUInt32LE(us % 1e6, 4);
    const caplen = Math.min(frame.length, this.maxlen);
    h.writeUInt32LE(caplen, 8);
    h.writeUInt32LE(frame.length, 12);
    try {
      writeSync(this.fd, h);
      writeSync(this.fd, frame, 0, caplen);
      this.frames++;
    } catch (e) {
      this.warn(
        `filter-dump: writing '${this.file}' failed (${(e as NodeJS.ErrnoException).code ?? String(e)}): capture stopped`,
      );
      this.close();
    }
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      closeSync(fd);
    } catch {
      // Already gone.
    }
  }
}

/** One record of a classic pcap file. */
export interface PcapRecord {
  /** Timestamp in µs. */
  readonly us: number;
  readonly origLen: number;
  readonly data: Uint8Array;
}

/** Reads a classic little-endian pcap file's records (for tests and tools). */
export function readPcap(bytes: Uint8Array): { linktype: number; records: PcapRecord[] } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 24 || b.readUInt32LE(0) !== 0xa1b2c3d4)
    throw new EmuhostError('E_BAD_ARGUMENT', 'not a little-endian classic pcap file');
  const records: PcapRecord[] = [];
  for (let at = 24; at + 16 <= b.length; ) {
    const caplen = b.readUInt32LE(at + 8);
    records.push({
      us: b.readUInt32LE(at) * 1e6 + b.readUInt32LE(at + 4),
      origLen: b.readUInt32LE(at + 12),
      data: new Uint8Array(b.subarray(at + 16, at + 16 + caplen)),
    });
    at += 16 + caplen;
  }
  return { linktype: b.readUInt32LE(20), records };
}
