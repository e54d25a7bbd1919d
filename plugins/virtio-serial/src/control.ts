/**
 * The control messages of a MULTIPORT console device (virtio 1.2, 5.3.6.2): eight bytes,
 * `struct virtio_console_control { le32 id; le16 event; le16 value; }`, with PORT_NAME's name
 * (and RESIZE's size) following in the same buffer.
 */

/** Control events (5.3.6.2); the arrow says who sends it. */
export const EVENT = {
  /** driver → device: the driver is ready (value 1) or failed (0). */
  DEVICE_READY: 0,
  /** device → driver: port `id` exists. */
  DEVICE_ADD: 1,
  /** device → driver: port `id` is gone. */
  DEVICE_REMOVE: 2,
  /** driver → device: port `id` was set up (value 1) or not (0). */
  PORT_READY: 3,
  /** device → driver: port `id` is a console. */
  CONSOLE_PORT: 4,
  /** device → driver: a console's size changed. */
  RESIZE: 5,
  /** both ways: the sender's end of port `id` is open (1) or closed (0). */
  PORT_OPEN: 6,
  /** device → driver: port `id`'s name follows. */
  PORT_NAME: 7,
} as const;

export const CONTROL_SIZE = 8;

export interface ControlMessage {
  readonly id: number;
  readonly event: number;
  readonly value: number;
}

/** A message, with `extra` bytes (a name) after the header. */
export function encodeControl(m: ControlMessage, extra?: Uint8Array): Uint8Array {
  const out = new Uint8Array(CONTROL_SIZE + (extra?.length ?? 0));
  const v = new DataView(out.buffer);
  v.setUint32(0, m.id >>> 0, true);
  v.setUint16(4, m.event & 0xffff, true);
  v.setUint16(6, m.value & 0xffff, true);
  if (extra !== undefined) out.set(extra, CONTROL_SIZE);
  return out;
}

/** The header of `bytes` (at least CONTROL_SIZE of them). */
export function decodeControl(bytes: Uint8Array): ControlMessage {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { id: v.getUint32(0, true), event: v.getUint16(4, true), value: v.getUint16(6, true) };
}

/** `s` as UTF-8 (what Linux reads a port's name as). Plugin realms have no TextEncoder. */
export function utf8(s: string): Uint8Array {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}
