/**
 * GDB's remote serial protocol on the wire: `$payload#cc` packets (cc: the payload's byte sum
 * mod 256, in hex), `+`/`-` acknowledgements, and a bare 0x03 to interrupt. Payload bytes
 * `$ # } *` are escaped as `}` then the byte xor 0x20 (binary data, and every reply we send).
 * Run-length encoding is never sent; a received one is expanded.
 */

export type RspEvent =
  | { readonly kind: 'packet'; readonly payload: Uint8Array; readonly checksumOk: boolean }
  | { readonly kind: 'ack' }
  | { readonly kind: 'nack' }
  | { readonly kind: 'interrupt' };

/** The longest payload accepted; longer input is dropped as garbage. */
const MAX_PAYLOAD = 1 << 20;

/** Splits a byte stream into protocol events, across any chunking. */
export class RspReader {
  /** 0: between packets; 1: in a payload; 2, 3: the checksum's first and second digit. */
  private state = 0;
  private payload: number[] = [];
  private sum = 0;
  private check = '';

  feed(bytes: Uint8Array): RspEvent[] {
    const out: RspEvent[] = [];
    for (const b of bytes) {
      switch (this.state) {
        case 0:
          if (b === 0x24) {
            this.state = 1;
            this.payload = [];
            this.sum = 0;
          } else if (b === 0x2b) out.push({ kind: 'ack' });
          else if (b === 0x2d) out.push({ kind: 'nack' });
          else if (b === 0x03) out.push({ kind: 'interrupt' });
          break;
        case 1:
          if (b === 0x23) {
            this.state = 2;
            this.check = '';
          } else {
            this.sum = (this.sum + b) & 0xff;
            if (this.payload.length < MAX_PAYLOAD) this.payload.push(b);
            else this.state = 0;
          }
          break;
        default:
          this.check += String.fromCharCode(b);
          if (this.state === 2) this.state = 3;
          else {
            this.state = 0;
            out.push({
              kind: 'packet',
              payload: decodePayload(this.payload),
              checksumOk: Number.parseInt(this.check, 16) === this.sum,
            });
          }
      }
    }
    return out;
  }
}

/** Undoes `}` escapes and `*` run lengths. */
function decodePayload(raw: readonly number[]): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === 0x7d && i + 1 < raw.length) out.push(raw[++i]! ^ 0x20);
    else if (b === 0x2a && i + 1 < raw.length && out.length > 0) {
      const n = raw[++i]! - 29;
      const last = out[out.length - 1]!;
      for (let k = 0; k < n; k++) out.push(last);
    } else out.push(b);
  }
  return Uint8Array.from(out);
}

/** `$payload#cc`, with the payload escaped. */
export function frame(payload: Uint8Array | string): Uint8Array {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const out: number[] = [0x24];
  let sum = 0;
  for (const b of bytes) {
    if (b === 0x24 || b === 0x23 || b === 0x7d || b === 0x2a) {
      out.push(0x7d, b ^ 0x20);
      sum += 0x7d + (b ^ 0x20);
    } else {
      out.push(b);
      sum += b;
    }
  }
  out.push(0x23, ...Buffer.from((sum & 0xff).toString(16).padStart(2, '0')));
  return Uint8Array.from(out);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Hex digits to bytes, or undefined if they are not an even run of hex digits. */
export function fromHex(s: string): Uint8Array | undefined {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, 'hex'));
}
