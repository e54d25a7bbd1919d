/**
 * The run loop with a real rv64 hart: a guest that idles on its timer and on its UART, in
 * deterministic mode with and without sleep=on pacing and in real-time mode. What the guest
 * executes never depends on the pacing: the same instructions, the same virtual time.
 */
import { HostClock } from '@emuhost/host';
import { describe, expect, it } from 'vitest';
import { echo, ticks } from './test-support/guests.js';
import { testMachine } from './test-support/machine.js';

describe('running the rvtest machine', () => {
  it('a timer-driven guest runs the same with sleep=on and sleep=off, every time', {
    timeout: 60_000,
  }, async () => {
    const results = [];
    for (const sleep of [false, true, false]) {
      const m = await testMachine(ticks(4, 2_000_000).image, { sleep });
      expect(await m.loop.run()).toEqual({ reason: 'poweroff', exitCode: 0 });
      results.push({
        out: m.output(),
        instructions: m.emu.machine.cpus.instructions,
        time: m.emu.machine.clock.now,
      });
    }
    expect(results[0]!.out).toBe('TTTT\n');
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    // Four ticks 2 ms apart: virtual time went past 8 ms, on idle jumps, not instructions.
    expect(results[0]!.time).toBeGreaterThan(8_000_000);
    expect(results[0]!.instructions).toBeLessThan(2_000);
  });

  it('sleep=on: an idle guest waits for the host clock before its timer fires', {
    timeout: 60_000,
  }, async () => {
    let hostNs = 0;
    const clock = new HostClock(() => hostNs);
    const m = await testMachine(ticks(1, 50_000_000).image, { clock });
    const done = m.loop.run();
    // The guest is waiting for a tick 50 ms away; the host clock has not moved.
    while (!m.emu.cpus[0]!.model.waiting) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(m.output()).toBe('');
    expect(m.emu.machine.clock.now).toBeLessThan(50_000_000);
    hostNs = 60_000_000;
    m.loop.wake();
    expect(await done).toEqual({ reason: 'poweroff', exitCode: 0 });
    expect(m.output()).toBe('T\n');
  });

  it('input wakes a guest waiting in wfi, and reaches it in order', {
    timeout: 60_000,
  }, async () => {
    const m = await testMachine(echo().image);
    const done = m.loop.run();
    while (!m.output().includes('echo ready\n')) await new Promise((r) => setImmediate(r));
    // Longer than the UART's 16-byte FIFO; without the echo guest's q, r and ! commands.
    const text = 'The lazy dog sleeps; the fox jumps high, then looks back at the lazy dog.';
    m.serial.input(Buffer.from(text));
    while (!m.output().endsWith(text)) await new Promise((r) => setImmediate(r));
    m.serial.input(Buffer.from('!'));
    expect(await done).toEqual({ reason: 'poweroff', exitCode: 3 });
  });

  it('real-time mode (-icount shift=auto) runs the same guest to the end', {
    timeout: 60_000,
  }, async () => {
    const m = await testMachine(ticks(3, 1_000_000).image, {}, { mode: 'realtime' });
    expect(await m.loop.run()).toEqual({ reason: 'poweroff', exitCode: 0 });
    expect(m.output()).toBe('TTT\n');
  });
});
