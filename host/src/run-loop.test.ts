import type { SchedulerOptions } from '@emuhost/core';
import {
  type CpuContext,
  type CpuModel,
  definePlugin,
  type GuestPhysAddr,
  type MachineContext,
} from '@emuhost/sdk';
import { describe, expect, it } from 'vitest';
import { Emulator } from './emulator.js';
import { HostClock } from './host-clock.js';
import { inProcessPlugin } from './in-process.js';
import { RunLoop, type RunState } from './run-loop.js';

/** Where the test machine's finisher sits: 1 powers off (exit code in bits 8..), 2 reboots. */
const FINISHER = 0x1000 as GuestPhysAddr;
/** A register that arms the machine's timer `value` ns from now; it raises the CPU's irq. */
const TIMER = 0x1004 as GuestPhysAddr;

/** What a test's CPU does in one `run(budget)`: returns instructions retired. */
type Program = (cpu: FakeCpu, budget: number) => number;

/** A CPU whose instructions are a test's JavaScript: enough to drive the loop's paths. */
class FakeCpu implements CpuModel {
  waiting = false;
  resets = 0;
  retired = 0;
  readonly info = {};
  constructor(
    readonly ctx: CpuContext,
    private readonly program: Program,
  ) {}
  run(budget: number): number {
    const n = this.program(this, budget);
    this.retired += n;
    return n;
  }
  setIrq(_input: number, level: 0 | 1): void {
    if (level) this.waiting = false;
  }
  stop(): void {}
  reset(): void {
    this.resets++;
    this.waiting = false;
  }
  pageWritten(): void {}
  pageWatched(): void {}
  memoryChanged(): void {}
  store(addr: GuestPhysAddr, value: number): void {
    this.ctx.memory.store(addr, 4, value);
  }
}

function emulator(program: Program, scheduler?: SchedulerOptions) {
  let cpu!: FakeCpu;
  const cpuPlugin = inProcessPlugin(
    { id: 'fakecpu', version: '1.0.0', kind: 'cpu', sdk: '^1.4.0', entry: 'x', capabilities: [] },
    definePlugin({
      kind: 'cpu',
      arch: 'fake',
      irqInputs: ['irq'],
      create: (ctx) => {
        cpu = new FakeCpu(ctx, program);
        return cpu;
      },
    }),
  );
  const machine = inProcessPlugin(
    {
      id: 'fakemachine',
      version: '1.0.0',
      kind: 'machine',
      sdk: '^1.4.0',
      entry: 'x',
      capabilities: [],
    },
    definePlugin({
      kind: 'machine',
      cpu: { arch: 'fake', default: 'fakecpu' },
      create(ctx: MachineContext) {
        const irq = ctx.cpu!(0).irq('irq');
        const timer = ctx.clock!.timer('t', () => irq(1));
        ctx.place(
          ctx.system,
          ctx.mmio('regs', 8, {
            read: () => 0,
            write: (off, _size, value) => {
              const v = Number(value);
              if (off === 0 && (v & 0xff) === 1) ctx.requestShutdown!('poweroff', v >> 8);
              if (off === 0 && v === 2) ctx.requestShutdown!('reboot');
              if (off === 4) timer.armIn(v);
              return undefined;
            },
          }),
          FINISHER,
        );
        return {};
      },
    }),
  );
  const emu = new Emulator({
    machine,
    ramSize: 1 << 20,
    cpu: { plugin: cpuPlugin },
    ...(scheduler !== undefined && { scheduler }),
  });
  return { emu, cpu: () => cpu };
}

/** Lets the event loop turn `n` times (the run loop yields with setImmediate). */
async function turns(n: number) {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe('RunLoop', () => {
  it('runs until the guest powers off and resolves with its exit code', async () => {
    const { emu, cpu } = emulator((c, budget) => {
      if (c.retired + budget >= 1_000_000) {
        c.store(FINISHER, (7 << 8) | 1);
        return 1_000_000 - c.retired;
      }
      return budget;
    });
    const exit = await new RunLoop(emu).run();
    expect(exit).toEqual({ reason: 'poweroff', exitCode: 7 });
    expect(cpu().retired).toBe(1_000_000);
  });

  it('resets the machine on a guest reboot and goes on; -no-reboot ends the run instead', async () => {
    const program: Program = (c) => {
      c.store(FINISHER, c.resets === 0 ? 2 : 1);
      return 1;
    };
    const a = emulator(program);
    expect(await new RunLoop(a.emu).run()).toEqual({ reason: 'poweroff', exitCode: 0 });
    expect(a.cpu().resets).toBe(1);
    const b = emulator(program);
    expect(await new RunLoop(b.emu, { noReboot: true }).run()).toEqual({
      reason: 'reboot',
      exitCode: 0,
    });
    expect(b.cpu().resets).toBe(0);
  });

  it('a CPU that halts (a guest stuck beyond help) ends the run with exit code 1 and its reason', async () => {
    const { emu } = emulator((c) => {
      c.ctx.halt('stuck at 0x0');
      c.waiting = true;
      return 1;
    });
    expect(await new RunLoop(emu).run()).toEqual({
      reason: 'halted',
      exitCode: 1,
      message: 'cpu0: stuck at 0x0',
    });
  });

  it('sleeps while every CPU waits without a timer, and input wakes it', async () => {
    let inputs = 0;
    const { emu, cpu } = emulator((c) => {
      if (inputs > 0) {
        c.store(FINISHER, 1);
        return 1;
      }
      c.waiting = true;
      return 1;
    });
    const loop = new RunLoop(emu);
    const done = loop.run();
    await turns(20);
    expect(cpu().waiting).toBe(true);
    const retired = cpu().retired;
    await turns(20);
    expect(cpu().retired).toBe(retired); // asleep: nothing ran
    inputs++;
    cpu().setIrq(0, 1);
    loop.wake();
    expect(await done).toEqual({ reason: 'poweroff', exitCode: 0 });
  });

  it('pauses and resumes; nothing runs while paused, and listeners hear every change', async () => {
    const { emu, cpu } = emulator((c, budget) => {
      if (c.retired >= 50_000_000) {
        c.store(FINISHER, 1);
        return 1;
      }
      return Math.min(budget, 1000);
    });
    const loop = new RunLoop(emu, { paused: true });
    const seen: RunState[] = [];
    loop.onChange((s) => seen.push(s));
    const done = loop.run();
    await turns(10);
    expect(cpu().retired).toBe(0); // -S: paused before the first instruction
    loop.resume();
    while (cpu().retired === 0) await turns(1);
    loop.pause();
    const at = cpu().retired;
    await turns(10);
    expect(cpu().retired).toBe(at);
    expect(loop.state).toEqual({ status: 'paused', reason: 'user' });
    loop.resume();
    expect(await done).toEqual({ reason: 'poweroff', exitCode: 0 });
    expect(seen.map((s) => s.status)).toEqual(['running', 'paused', 'running', 'ended']);
  });

  it('a pause from inside a CPU (a debugger stop) ends the slice at once', async () => {
    let loop!: RunLoop;
    const { emu, cpu } = emulator((c) => {
      if (c.retired === 123) loop.pause('debug');
      return 1;
    });
    loop = new RunLoop(emu);
    const done = loop.run();
    while (loop.state.status === 'running') await turns(1);
    expect(loop.state).toEqual({ status: 'paused', reason: 'debug' });
    expect(cpu().retired).toBe(124);
    loop.quit(5);
    expect(await done).toEqual({ reason: 'quit', exitCode: 5 });
  });

  it('runs `between` work after the slice, never inside the device callback that asked', async () => {
    let loop!: RunLoop;
    let insideCpu = false;
    const order: string[] = [];
    const { emu } = emulator((c) => {
      insideCpu = true;
      if (order.length === 0) {
        loop.between(() => order.push(insideCpu ? 'inside' : 'between'));
        order.push('asked');
      } else c.store(FINISHER, 1);
      insideCpu = false;
      return 1;
    });
    loop = new RunLoop(emu);
    await loop.run();
    expect(order).toEqual(['asked', 'between']);
  });

  it('paces an idle guest to the host clock (sleep=on) without changing what it executes', async () => {
    // The guest: 1000 instructions, arm a timer 50 ms out, wait; when it fires, power off.
    const program: Program = (c) => {
      if (c.retired === 0) {
        c.store(TIMER, 50_000_000);
        c.waiting = true;
        return 1000;
      }
      c.store(FINISHER, 1);
      return 1;
    };
    // sleep=off: the scheduler jumps to the deadline at once, whatever the host clock says.
    let hostNs = 0;
    const off = emulator(program);
    const offLoop = new RunLoop(off.emu, { sleep: false, clock: new HostClock(() => hostNs) });
    expect(await offLoop.run()).toEqual({ reason: 'poweroff', exitCode: 0 });
    const offTime = off.emu.machine.clock.now;

    // sleep=on: the guest idles until the host clock has moved by the same 50 ms.
    const on = emulator(program);
    const clock = new HostClock(() => hostNs);
    const loop = new RunLoop(on.emu, { clock });
    const done = loop.run();
    while (on.cpu().retired === 0) await turns(1);
    await turns(20);
    expect(on.emu.machine.clock.now).toBe(1000); // still waiting: the host clock has not moved
    expect(loop.inputTime(), 'input arrives at the clock while the host clock stands').toBe(1000);
    hostNs += 20_000_000;
    loop.wake();
    await turns(20);
    expect(on.emu.machine.clock.now).toBe(1000);
    // A network frame from another process now would arrive 20 ms into the idle period.
    expect(loop.inputTime()).toBe(1000 + 20_000_000);
    hostNs += 30_000_000;
    loop.wake();
    expect(await done).toEqual({ reason: 'poweroff', exitCode: 0 });
    expect(on.cpu().retired).toBe(off.cpu().retired);
    expect(on.emu.machine.clock.now).toBe(offTime);
  });

  it('in real-time mode sleeps for what the scheduler says and stops the clock while paused', async () => {
    let hostNs = 0;
    const clock = new HostClock(() => hostNs);
    const { emu, cpu } = emulator(
      (c) => {
        if (c.retired === 0) {
          c.store(TIMER, 10_000_000);
          c.waiting = true;
          return 1;
        }
        c.store(FINISHER, 1);
        return 1;
      },
      { mode: 'realtime', hostNow: () => clock.now() },
    );
    const loop = new RunLoop(emu, { clock });
    const done = loop.run();
    while (cpu().retired === 0) await turns(1);
    loop.pause();
    hostNs += 1_000_000_000; // a second passes while paused: the guest must not see it
    loop.resume();
    await turns(20);
    expect(cpu().retired).toBe(1);
    expect(emu.machine.clock.now).toBeLessThan(10_000_000);
    hostNs += 10_000_000;
    loop.wake();
    expect(await done).toEqual({ reason: 'poweroff', exitCode: 0 });
  });
});
