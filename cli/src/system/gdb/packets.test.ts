import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frame, fromHex, RspReader, toHex } from './packets.js';

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('GDB remote serial protocol framing', () => {
  it('frames with the checksum GDB computes', () => {
    // From GDB's manual and a real session: `$g#67`, `$OK#9a`.
    expect(text(frame('g'))).toBe('$g#67');
    expect(text(frame('OK'))).toBe('$OK#9a');
    expect(text(frame(''))).toBe('$#00');
  });

  it('reads packets, acks, nacks and interrupts across chunk boundaries', () => {
    const r = new RspReader();
    const wire = Buffer.from('+$qSupported:swbreak+#c1-\x03$m80000000,4#55');
    const events = [...wire].flatMap((b) => r.feed(Uint8Array.of(b)));
    expect(events.map((e) => e.kind)).toEqual(['ack', 'packet', 'nack', 'interrupt', 'packet']);
    const p = events[1] as { payload: Uint8Array; checksumOk: boolean };
    expect(text(p.payload)).toBe('qSupported:swbreak+');
    expect(
      events.filter((e) => e.kind === 'packet').map((e) => (e as typeof p).checksumOk),
    ).toEqual([false, true]);
  });

  it('round-trips any payload through escaping (binary X packets)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (payload) => {
        const [e] = new RspReader().feed(frame(payload));
        expect(e).toEqual({ kind: 'packet', payload, checksumOk: true });
      }),
    );
  });

  it('expands run-length encoding', () => {
    // `0* ` is '0' then 32 - 29 = 3 more.
    const wire = Buffer.from('$0* #00');
    let sum = 0;
    for (const b of Buffer.from('0* ')) sum += b;
    wire.write((sum & 0xff).toString(16).padStart(2, '0'), wire.length - 2);
    const [e] = new RspReader().feed(wire);
    expect(e).toMatchObject({ kind: 'packet', checksumOk: true });
    expect(text((e as { payload: Uint8Array }).payload)).toBe('0000');
  });

  it('hex both ways', () => {
    expect(toHex(Uint8Array.of(0, 0xab, 0x10))).toBe('00ab10');
    expect(fromHex('00AB10')).toEqual(Uint8Array.of(0, 0xab, 0x10));
    expect(fromHex('abc')).toBeUndefined();
    expect(fromHex('zz')).toBeUndefined();
  });
});
