/**
 * Runs qtest lines against a fresh machine of a combination, through an in-process
 * `QtestSession` with emuhost's extension commands (what `emuhost qtest` serves), and checks
 * the fuzzer's invariants after every line:
 *
 * - the session answered, and not `FAIL internal error` (a host exception escaped a command);
 * - the line took less than the time bound (checked after it returns; a line that never
 *   returns is caught by the watchdog in watchdog.ts, which runs lines in a worker thread);
 * - the DMA shadow model: every completed DMA write (kernel hook `dma.transfer`) reached only
 *   what a translation could permit at that moment: the identity (translated = IOVA) without
 *   an IOMMU, never the canary or the IOMMU's tables, and through an IOMMU either BUF (the
 *   one place the fuzzer's mappings ever point) or the identity (VT-d with translation off
 *   passes requests through; an MSI to an unprogrammed address is a write to 0);
 * - the canary (guest RAM nothing may write) is intact;
 * - the sandbox is intact (no plugin changed a shared prototype);
 * - the machine still answers (`readl` of RAM);
 * - the lifecycle commands do what they say: `emuhost.device.reload` and
 *   `emuhost.device.inject-fault` (always well-formed here) answer `OK`, a reload reports
 *   `reloaded` (edu's own state must come back) and leaves the device running a fresh plugin
 *   realm unquarantined, and after `emuhost.device.restart` the device is out of quarantine
 *   with no armed fault left;
 * - pc-testdev's register: an `inl 0xe0` right after an `outl 0xe0 V` answers V (unless the
 *   device was quarantined by either line).
 *
 * Device faults (quarantine, whether a device bug or an injected fault) and IOMMU faults are
 * allowed outcomes, counted, not failures.
 */
import { buildMachineSpec, type Emulator, PluginHost } from '@emuhost/host';
import { emuhostExtensions } from '../qtest/extensions.js';
import { QtestSession } from '../qtest/session.js';
import {
  BUF,
  BUF_SIZE,
  CANARY,
  CANARY_BYTE,
  CANARY_SIZE,
  type Combo,
  deviceId,
  machineSpec,
  RAM_SIZE,
  TABLES,
  TABLES_SIZE,
} from './combos.js';
import { hex, type Target } from './ops.js';

export type FailureKind =
  | 'internal-error'
  | 'exception'
  | 'hang'
  | 'dma-outside'
  | 'canary'
  | 'sandbox'
  | 'unresponsive'
  | 'lifecycle'
  | 'pc-testdev';

export interface Failure {
  readonly kind: FailureKind;
  /** Index of the line after which the invariant broke. */
  readonly index: number;
  readonly line: string;
  readonly detail: string;
}

export interface RunnerOptions {
  /** Builds the machine (default: the combination's machine file through buildMachineSpec). */
  readonly build?: (combo: Combo) => Promise<Emulator>;
  /** Longest a single line may take, in ms. Default 2000. */
  readonly boundMs?: number;
  /**
   * A debug hook for testing the watchdog: a line starting with this string never returns
   * (a busy loop, as a plugin callback stuck in an infinite loop would be). Only meaningful
   * with `watchdog` (fuzz.ts), which runs lines in a worker it can terminate.
   */
  readonly hangOn?: string;
}

/** Lines the runner runs before the sequence, unchecked: they are the script's prologue too. */
export const PROLOGUE = [`memset ${hex(CANARY)} ${CANARY_SIZE} ${hex(CANARY_BYTE)}`];

const hosts = new WeakMap<object, PluginHost>();
const defaultKey = {};

async function defaultBuild(combo: Combo): Promise<Emulator> {
  let host = hosts.get(defaultKey);
  if (host === undefined) {
    host = new PluginHost();
    hosts.set(defaultKey, host);
  }
  return buildMachineSpec(machineSpec(combo), host, { log: () => {} });
}

function protoSnapshot(): string {
  const names = (o: object) => Reflect.ownKeys(o).length;
  return [
    Object.prototype,
    Array.prototype,
    Function.prototype,
    String.prototype,
    Promise.prototype,
  ]
    .map(names)
    .join(',');
}

export class Run {
  readonly session: QtestSession;
  deviceFaults = 0;
  iommuFaults = 0;
  dmaOk = 0;
  private pending: string[] = [];
  /** What the next `inl 0xe0` must answer: V of the `outl 0xe0 V` just before it. */
  private ioportExpect: number | undefined;
  private readonly proto = protoSnapshot();
  private readonly canary = new Uint8Array(CANARY_SIZE);
  private readonly expected = new Uint8Array(CANARY_SIZE).fill(CANARY_BYTE);

  private constructor(
    readonly emu: Emulator,
    readonly combo: Combo,
    private readonly boundMs: number,
    private readonly hangOn?: string,
  ) {
    this.session = new QtestSession(emu, { emit: () => {}, extensions: emuhostExtensions(emu) });
    const h = emu.machine.hooks;
    h.dma.transfer.tap('emuhost:fuzz', (e) => {
      if (e.access !== 'write' || e.result !== 'ok' || e.len === 0) return;
      this.dmaOk++;
      const end = e.translated + e.len;
      const overlaps = (a: number, n: number) => e.translated < a + n && end > a;
      let why: string | undefined;
      if (e.iommu === null && e.translated !== e.iova)
        why = `without an IOMMU it reached ${hex(e.translated)}, not its IOVA`;
      else if (overlaps(CANARY, CANARY_SIZE)) why = 'it reached the canary';
      else if (overlaps(TABLES, TABLES_SIZE) && !emu.iommus.has(e.device))
        why = "it reached the IOMMU's tables";
      else if (
        e.iommu !== null &&
        !emu.iommus.has(e.device) &&
        e.translated !== e.iova &&
        (e.translated < BUF || end > BUF + BUF_SIZE)
      )
        why = `${e.iommu} let it reach ${hex(e.translated)}, outside every mapping the guest made`;
      else if (end > RAM_SIZE && e.translated < RAM_SIZE) why = 'it ran past the end of RAM';
      if (why !== undefined)
        this.pending.push(
          `DMA write by ${e.device} iova=${hex(e.iova)} gpa=${hex(e.translated)} len=${hex(e.len)} iommu=${e.iommu ?? 'none'}: ${why}`,
        );
    });
    h.guard.deviceFault.tap('emuhost:fuzz', () => {
      this.deviceFaults++;
    });
    h.iommu.fault.tap('emuhost:fuzz', () => {
      this.iommuFaults++;
    });
  }

  static async open(combo: Combo, opts: RunnerOptions = {}): Promise<Run> {
    const emu = await (opts.build ?? defaultBuild)(combo);
    const run = new Run(emu, combo, opts.boundMs ?? 2000, opts.hangOn);
    for (const l of PROLOGUE) run.session.handle(l);
    return run;
  }

  /** The target the generator needs: edu's devfn and MSI capability, by config reads. */
  target(): Target {
    if (this.combo.device !== 'edu') {
      if (!this.emu.devices.has(deviceId(this.combo)))
        throw new Error(`no ${deviceId(this.combo)} on ${this.combo.machine}`);
      return { combo: this.combo, devfn: undefined, msiCap: undefined };
    }
    const q = (l: string) => this.session.handle(l);
    const cfg = (devfn: number, off: number) => {
      q(`outl 0xcf8 ${hex((0x80000000 | (devfn << 8) | (off & 0xfc)) >>> 0)}`);
      return Number.parseInt(q('inl 0xcfc').slice(3), 16) >>> (8 * (off & 3));
    };
    for (let devfn = 0; devfn < 256; devfn++) {
      if (cfg(devfn, 0) !== 0x11e81234) continue;
      let msiCap: number | undefined;
      if (cfg(devfn, 4) & (0x10 << 16)) {
        let p = cfg(devfn, 0x34) & 0xfc;
        for (let n = 0; p !== 0 && n < 48; n++) {
          const hdr = cfg(devfn, p);
          if ((hdr & 0xff) === 0x05) {
            msiCap = p;
            break;
          }
          p = (hdr >>> 8) & 0xfc;
        }
      }
      return { combo: this.combo, devfn, msiCap };
    }
    throw new Error(`no edu device on bus 0 of ${this.combo.machine}`);
  }

  /** Runs one line and checks every invariant. */
  exec(line: string, index: number): Failure | undefined {
    const fail = (kind: FailureKind, detail: string): Failure => ({ kind, index, line, detail });
    if (line.startsWith('#') || line.trim() === '') return undefined;
    const expect = this.ioportExpect;
    this.ioportExpect = undefined;
    // The plugin a device runs before a reload of it, which must replace it.
    const before = line.startsWith('emuhost.device.reload ')
      ? this.emu.devices.get(line.split(' ')[1] ?? '')?.plugin
      : undefined;
    const t0 = performance.now();
    if (this.hangOn !== undefined && line.startsWith(this.hangOn)) for (;;);
    let resp: string;
    try {
      resp = this.session.handle(line);
    } catch (e) {
      return fail('exception', `the session threw: ${e instanceof Error ? e.stack : String(e)}`);
    }
    const ms = performance.now() - t0;
    if (resp.startsWith('FAIL internal error')) return fail('internal-error', resp);
    const life = this.lifecycle(line, resp, before);
    if (life !== undefined) return fail('lifecycle', life);
    if (!/^(OK|FAIL|ERR)\b/.test(resp)) return fail('internal-error', `unexpected answer: ${resp}`);
    const reg = this.testdevRegister(line, resp, expect);
    if (reg !== undefined) return fail('pc-testdev', reg);
    if (ms > this.boundMs)
      return fail('hang', `took ${ms.toFixed(0)} ms (bound ${this.boundMs} ms)`);
    if (this.pending.length > 0) {
      const d = this.pending.join('; ');
      this.pending = [];
      return fail('dma-outside', d);
    }
    this.emu.machine.memory.read(CANARY as never, this.canary);
    if (!Buffer.from(this.canary.buffer).equals(Buffer.from(this.expected.buffer))) {
      const at = this.canary.findIndex((b) => b !== CANARY_BYTE);
      return fail(
        'canary',
        `canary byte ${hex(CANARY + at)} is ${hex(this.canary[at]!)}, not ${hex(CANARY_BYTE)}`,
      );
    }
    if (protoSnapshot() !== this.proto) return fail('sandbox', 'a shared prototype changed');
    const alive = this.session.handle(`readl ${hex(BUF)}`);
    if (!alive.startsWith('OK 0x')) return fail('unresponsive', `readl of RAM answered ${alive}`);
    return undefined;
  }

  /** pc-testdev's register check (see the class comment); notes what an `outl 0xe0 V` expects. */
  private testdevRegister(
    line: string,
    resp: string,
    expect: number | undefined,
  ): string | undefined {
    if (this.combo.device !== 'pc-testdev') return undefined;
    const d = this.emu.devices.get(deviceId(this.combo));
    if (d === undefined || d.slot.scope.guard.quarantined) return undefined;
    const m = /^outl 0xe0 (0x[0-9a-f]+)$/i.exec(line);
    if (m !== null && resp === 'OK') this.ioportExpect = Number(m[1]) >>> 0;
    if (line !== 'inl 0xe0' || expect === undefined) return undefined;
    const got = resp.startsWith('OK 0x') ? Number.parseInt(resp.slice(3), 16) : Number.NaN;
    return got === expect ? undefined : `inl 0xe0 answered ${resp} after outl 0xe0 ${hex(expect)}`;
  }

  /** What is wrong after a device lifecycle command (reload, restart, inject-fault), if anything. */
  private lifecycle(line: string, resp: string, before: unknown): string | undefined {
    const [cmd, id] = line.split(' ');
    if (id === undefined || !cmd!.startsWith('emuhost.device.')) return undefined;
    const d = this.emu.devices.get(id);
    if (d === undefined) return undefined;
    const guard = d.slot.scope.guard;
    switch (cmd) {
      case 'emuhost.device.inject-fault':
        return resp === 'OK' ? undefined : `answered ${resp}`;
      case 'emuhost.device.reload': {
        if (!resp.startsWith('OK {')) return `answered ${resp}`;
        const r = JSON.parse(resp.slice(3)) as { outcome: string; error?: string };
        if (r.outcome !== 'reloaded') return `the reload ${r.outcome}: ${r.error ?? ''}`;
        if (guard.quarantined) return 'the reloaded device is quarantined';
        if (d.plugin === before) return 'the device still runs the plugin it ran before';
        return undefined;
      }
      case 'emuhost.device.restart':
        if (!resp.startsWith('OK')) return `answered ${resp}`;
        if (guard.quarantined || guard.armed !== null)
          return `after a restart the device is ${guard.quarantined ? 'quarantined' : 'armed'}`;
        return undefined;
      default:
        return undefined;
    }
  }

  /** Runs lines until the first failure. */
  execAll(lines: readonly string[]): Failure | undefined {
    for (const [i, l] of lines.entries()) {
      const f = this.exec(l, i);
      if (f !== undefined) return f;
    }
    return undefined;
  }

  close(): void {
    this.session.close();
  }
}

/** Runs `lines` on a fresh machine: the first failure, or undefined. */
export async function replay(
  combo: Combo,
  lines: readonly string[],
  opts: RunnerOptions = {},
): Promise<Failure | undefined> {
  const run = await Run.open(combo, opts);
  try {
    return run.execAll(lines);
  } finally {
    run.close();
  }
}
