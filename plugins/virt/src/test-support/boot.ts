/**
 * Boots the virt machine in this process, the way `emuhost-system-riscv64` builds it (the
 * bundled `virt` and `rv64` plugins, loaded as a user's run loads them), with the UART's
 * output collected: for tests of the machine and the reference guest.
 */

import {
  addBuiltinIommu,
  type BackendsSpec,
  Emulator,
  loadBundled,
  PluginHost,
} from '@emuhost/host';
import type { CharBackend, CharFrontend, CpuTraceKind, OptionValue } from '@emuhost/sdk';

export interface BootOptions {
  readonly bios?: Uint8Array;
  readonly kernel?: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly cmdline?: string;
  /** Default 512 MiB. */
  readonly ramSize?: number;
  readonly smp?: number;
  /** Stop after this many instructions (all harts). Default 4e9. */
  readonly maxInstructions?: number;
  /** Called with every chunk the UART sends. */
  readonly onOutput?: (text: string) => void;
  /** Stop when the console output contains this. */
  readonly until?: string;
  /** Console texts whose first appearance is recorded (instructions, virtual and host time then). */
  readonly watch?: readonly string[];
  readonly trace?: {
    kinds: ReadonlySet<CpuTraceKind>;
    sink: (cpu: string, kind: CpuTraceKind, text: string) => void;
  };
  readonly cpuOptions?: Readonly<Record<string, string | number | boolean>>;
  /** `-device` devices: a bundled plugin id, or an alias (`virtio-blk-device`) with its placement. */
  readonly devices?: readonly {
    readonly plugin: string;
    readonly id?: string;
    readonly platform?: boolean;
    readonly options?: Readonly<Record<string, OptionValue>>;
  }[];
  /** Drives and entropy sources the devices name. */
  readonly backends?: Omit<BackendsSpec, 'seed'>;
  /** Machine options (`-machine virt,key=value`). */
  readonly machineOptions?: Readonly<Record<string, OptionValue>>;
  /**
   * Called between run slices with the emulator (event boundaries: no DMA in flight); return
   * true to stop the run (outcome `until`). For tests that act on the running machine.
   */
  readonly between?: (emu: Emulator, output: string) => boolean | undefined;
  /** The plugin host (to load or rebuild plugins the run uses); default a fresh one. */
  readonly host?: PluginHost;
}

export interface BootResult {
  readonly output: string;
  readonly outcome: 'poweroff' | 'reboot' | 'halted' | 'until' | 'limit' | 'idle';
  readonly exitCode?: number;
  readonly message?: string;
  readonly instructions: number;
  readonly virtualNs: number;
  /** For each `watch` text seen: when it first appeared. */
  readonly seen: Readonly<
    Record<
      string,
      {
        readonly instructions: number;
        readonly virtualNs: number;
        readonly ms: number;
        readonly cpuMs: number;
      }
    >
  >;
  readonly emu: Emulator;
  /**
   * Runs the same machine on (after a snapshot was loaded into it, say) with the same limits
   * and callbacks; the result's `output` is what the UART sent from now on.
   */
  resume(opts?: Pick<BootOptions, 'maxInstructions' | 'until' | 'between'>): Promise<BootResult>;
}

/** A serial backend that collects what the guest sends (no input). */
class Capture implements CharBackend {
  text = '';
  constructor(private readonly on?: (t: string) => void) {}
  write(bytes: Uint8Array): void {
    const t = Buffer.from(bytes).toString('latin1');
    this.text += t;
    this.on?.(t);
  }
  connect(_f: CharFrontend): void {}
  ready(): void {}
}

/** A virt machine built and ready to run, with its console collected. */
interface Booting {
  readonly emu: Emulator;
  readonly serial: Capture;
  readonly seen: Record<
    string,
    { instructions: number; virtualNs: number; ms: number; cpuMs: number }
  >;
}

async function makeVirt(opts: BootOptions): Promise<Booting> {
  const host = opts.host ?? new PluginHost();
  const machine = await loadBundled(host, 'virt');
  const cpu = await loadBundled(host, 'rv64');
  const seen: Record<
    string,
    { instructions: number; virtualNs: number; ms: number; cpuMs: number }
  > = {};
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let emuRef: Emulator | undefined;
  const serial = new Capture((t) => {
    opts.onOutput?.(t);
    // Only the tail can hold a marker that was not there before this chunk.
    const from = serial.text.length - t.length;
    for (const w of opts.watch ?? [])
      if (seen[w] === undefined && serial.text.includes(w, Math.max(0, from - w.length))) {
        const c = process.cpuUsage(cpu0);
        seen[w] = {
          instructions: emuRef?.machine.cpus.instructions ?? 0,
          virtualNs: emuRef?.machine.clock.now ?? 0,
          ms: performance.now() - t0,
          cpuMs: (c.user + c.system) / 1000,
        };
      }
  });
  const emu = new Emulator({
    machine,
    ramSize: opts.ramSize ?? 512 << 20,
    smp: opts.smp ?? 1,
    cpu: { plugin: cpu, ...(opts.cpuOptions !== undefined && { options: opts.cpuOptions }) },
    firmware: {
      ...(opts.bios !== undefined && { bios: opts.bios }),
      ...(opts.kernel !== undefined && { kernel: opts.kernel }),
      ...(opts.initrd !== undefined && { initrd: opts.initrd }),
      ...(opts.cmdline !== undefined && { cmdline: opts.cmdline }),
    },
    serial: (i) => (i === 0 ? serial : undefined),
    ...(opts.backends !== undefined && { backends: opts.backends }),
    ...(opts.machineOptions !== undefined && { machineOptions: opts.machineOptions }),
    ...(opts.trace !== undefined && { trace: opts.trace }),
  });
  emuRef = emu;
  await addBuiltinIommu(emu, host);
  for (const d of opts.devices ?? []) {
    const plugin = await loadBundled(host, d.plugin);
    emu.addDevice(plugin, {
      ...(d.id !== undefined && { id: d.id }),
      ...(d.platform === true && { platform: true }),
      ...(d.options !== undefined && { options: d.options }),
    });
  }
  emu.ready();
  return { emu, serial, seen };
}

/** What one run of a machine looks at: its limits, and where its own output starts. */
type Drive = Pick<BootOptions, 'maxInstructions' | 'until' | 'between'> & { readonly from: number };

/** Runs `b` until virtual time `untilNs`; returns its outcome once it has one. */
function step(b: Booting, o: Drive, untilNs: number): BootResult['outcome'] | undefined {
  const { emu, serial } = b;
  const sched = emu.machine.cpus;
  for (;;) {
    const r = sched.run({ untilNs });
    const s = emu.shutdownRequest;
    if (s !== undefined) {
      if (s.kind === 'reboot') {
        emu.shutdownRequest = undefined;
        emu.reset();
        continue;
      }
      return s.kind;
    }
    const text = serial.text.slice(o.from);
    if ((o.until !== undefined && text.includes(o.until)) || o.between?.(emu, text) === true)
      return 'until';
    if (r.reason === 'idle') return 'idle';
    if (sched.instructions >= (o.maxInstructions ?? 4e9)) return 'limit';
    if (r.reason === 'until') return undefined;
  }
}

function result(b: Booting, o: Drive, outcome: BootResult['outcome']): BootResult {
  const { emu, serial, seen } = b;
  const s = emu.shutdownRequest;
  return {
    output: serial.text.slice(o.from),
    outcome,
    ...(s?.exitCode !== undefined && { exitCode: s.exitCode }),
    ...(s?.message !== undefined && { message: s.message }),
    instructions: emu.machine.cpus.instructions,
    virtualNs: emu.machine.clock.now,
    seen,
    emu,
    resume: (next = {}) => drive(b, { ...o, ...next, from: serial.text.length }),
  };
}

async function drive(b: Booting, o: Drive): Promise<BootResult> {
  for (;;) {
    const outcome = step(b, o, b.emu.machine.clock.now + 20_000_000);
    if (outcome !== undefined) return result(b, o, outcome);
    await new Promise((r) => setImmediate(r));
  }
}

export async function bootVirt(opts: BootOptions): Promise<BootResult> {
  return drive(await makeVirt(opts), { ...opts, from: 0 });
}

/**
 * Boots several virt machines in this process in lockstep: each runs `quantumNs` of virtual
 * time in turn, in the order given, until all have an outcome. With a quantum no longer than
 * the latency of the hub joining them (`NetHub`), what one machine sends arrives at the same
 * virtual time of the other whatever the order, so the runs are reproducible byte for byte.
 */
export async function bootVirtLockstep(
  machines: readonly BootOptions[],
  opts: { readonly quantumNs: number },
): Promise<BootResult[]> {
  const booted: Booting[] = [];
  for (const m of machines) booted.push(await makeVirt(m));
  const outcomes: (BootResult['outcome'] | undefined)[] = machines.map(() => undefined);
  for (let t = opts.quantumNs; outcomes.includes(undefined); t += opts.quantumNs) {
    for (const [i, b] of booted.entries()) {
      if (outcomes[i] !== undefined) continue;
      let o = step(b, { ...machines[i]!, from: 0 }, t);
      // A machine waiting with no timer at all still lives in the others' time.
      if (o === 'idle') {
        b.emu.machine.clock.setTime(t);
        o = undefined;
      }
      outcomes[i] = o;
    }
    await new Promise((r) => setImmediate(r));
  }
  return booted.map((b, i) => result(b, { ...machines[i]!, from: 0 }, outcomes[i]!));
}
