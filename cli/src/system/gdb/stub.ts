/**
 * The GDB stub: one debugger connection speaking GDB's remote serial protocol against the
 * machine's CPUs through the SDK's `CpuDebug`, so it knows no architecture (registers are
 * numbered and sized by the CPU's target description, which GDB reads with
 * `qXfer:features:read`). Each CPU is a thread (ids 1..N). In all-stop mode, as QEMU's stub:
 * the machine is stopped while GDB holds it (connecting stops it; a breakpoint or a finished
 * step stops it from inside the CPU through `CpuDebug.onStop`; Ctrl-C stops it), and `c`,
 * `s`, `vCont` resume it. The stop reply is sent once the run loop has parked, between
 * slices. Detaching (or the connection closing) removes breakpoints and resumes the machine.
 */
import type { Emulator, RunLoop, RunState } from '@emuhost/host';
import type { CpuDebug } from '@emuhost/sdk';
import { registerList } from '../registers.js';
import { frame, fromHex, type RspEvent, toHex } from './packets.js';

export interface GdbStubContext {
  readonly emu: Emulator;
  readonly loop: RunLoop;
  /** Sends bytes to the debugger. */
  readonly send: (bytes: Uint8Array) => void;
  /** `monitor CMD` (qRcmd): the human monitor's answer, if there is one. */
  readonly monitor?: (line: string) => string;
}

/** The largest packet we take and send (hex payloads are half that in bytes). */
const PACKET_SIZE = 0x4000;
const SIGINT = 2;
const SIGTRAP = 5;

export class GdbStub {
  private noAck = false;
  /** CPU index of `Hg` (registers, memory) and `Hc` (step, continue). */
  private gCpu = 0;
  private cCpu = 0;
  private readonly breakpoints = new Set<bigint>();
  /** A `c`/`s` was answered with nothing yet: the stop reply is owed. */
  private waiting = false;
  /** Why and where the machine last stopped for us. */
  private stopped: { cpu: number; signal: number } = { cpu: 0, signal: SIGTRAP };
  private stopCpu: number | undefined;
  private interrupted = false;
  private swbreak = false;
  private lastSent: Uint8Array | undefined;
  private readonly offChange: () => void;
  private closed = false;

  constructor(private readonly ctx: GdbStubContext) {
    for (const [i, c] of ctx.emu.cpus.entries()) {
      const d = c.model.debug;
      if (d === undefined) continue;
      d.onStop = () => {
        this.stopCpu = i;
        ctx.loop.pause('debug');
      };
    }
    this.offChange = ctx.loop.onChange((s) => this.changed(s));
    // A debugger that connects finds the machine stopped, as under QEMU.
    ctx.loop.pause('debug');
  }

  /** What arrived from the debugger. */
  handle(e: RspEvent): void {
    if (this.closed) return;
    switch (e.kind) {
      case 'ack':
        return;
      case 'nack':
        if (this.lastSent !== undefined) this.ctx.send(this.lastSent);
        return;
      case 'interrupt':
        if (this.ctx.loop.state.status === 'running') {
          this.interrupted = true;
          this.ctx.loop.pause('debug');
        }
        return;
      case 'packet': {
        if (!this.noAck) this.ctx.send(Buffer.from(e.checksumOk ? '+' : '-'));
        if (!e.checksumOk) return;
        const reply = this.command(Buffer.from(e.payload).toString('latin1'), e.payload);
        if (reply !== undefined) this.reply(reply);
      }
    }
  }

  /** The connection is gone (or `D`): breakpoints off, the machine running again. */
  detach(): void {
    if (this.closed) return;
    this.closed = true;
    this.offChange();
    this.setBreakpoints([]);
    for (const c of this.ctx.emu.cpus) {
      const d = c.model.debug;
      if (d === undefined) continue;
      d.singleStep = false;
      d.onStop = undefined;
    }
    const s = this.ctx.loop.state;
    if (s.status === 'paused' && s.reason === 'debug') this.ctx.loop.resume();
  }

  private reply(payload: string | Uint8Array): void {
    const f = frame(payload);
    this.lastSent = f;
    this.ctx.send(f);
  }

  private changed(s: RunState): void {
    if (!this.waiting) return;
    if (s.status === 'ended') {
      this.waiting = false;
      // The "process" exited: W with the exit status.
      this.reply(`W${(s.exit.exitCode & 0xff).toString(16).padStart(2, '0')}`);
      return;
    }
    if (s.status !== 'paused') return;
    this.waiting = false;
    const cpu = this.stopCpu ?? this.cCpu;
    const signal = this.interrupted || s.reason !== 'debug' ? SIGINT : SIGTRAP;
    this.stopCpu = undefined;
    this.interrupted = false;
    for (const c of this.ctx.emu.cpus) if (c.model.debug) c.model.debug.singleStep = false;
    this.stopped = { cpu, signal };
    this.gCpu = cpu;
    this.cCpu = cpu;
    this.reply(this.stopReply());
  }

  private stopReply(): string {
    const { cpu, signal } = this.stopped;
    const hit = this.debug(cpu)?.stopReason === 'breakpoint' && signal === SIGTRAP;
    return `T${hex2(signal)}thread:${hex2(cpu + 1)};${hit && this.swbreak ? 'swbreak:;' : ''}`;
  }

  private debug(cpu: number): CpuDebug | undefined {
    return this.ctx.emu.cpus[cpu]?.model.debug;
  }

  /** One packet; undefined when the reply comes later (a stop reply) or never (`k`). */
  private command(p: string, raw: Uint8Array): string | Uint8Array | undefined {
    const d = this.debug(this.gCpu);
    switch (p[0]) {
      case '?':
        return this.stopReply();
      case 'g':
        return d === undefined ? 'E01' : this.readAll(d);
      case 'G':
        return d === undefined ? 'E01' : this.writeAll(d, p.slice(1));
      case 'p': {
        const v = d?.readRegister(Number.parseInt(p.slice(1), 16));
        return v === undefined ? 'E01' : toHex(v);
      }
      case 'P': {
        const [n, hex] = p.slice(1).split('=');
        const v = fromHex(hex ?? '');
        return d !== undefined && v !== undefined && d.writeRegister(Number.parseInt(n!, 16), v)
          ? 'OK'
          : 'E01';
      }
      case 'm': {
        const [addr, len] = p.slice(1).split(',');
        if (d === undefined || addr === undefined || len === undefined) return 'E01';
        const n = Math.min(Number.parseInt(len, 16), PACKET_SIZE / 2);
        const bytes = d.readMemory(BigInt(`0x${addr}`), n);
        return bytes.length === 0 && n > 0 ? 'E14' : toHex(bytes);
      }
      case 'M':
      case 'X': {
        const colon = raw.indexOf(0x3a);
        const [addr, len] = p.slice(1, colon).split(',');
        if (d === undefined || colon < 0 || addr === undefined || len === undefined) return 'E01';
        const data = p[0] === 'M' ? fromHex(p.slice(colon + 1)) : raw.subarray(colon + 1);
        if (data === undefined || data.length !== Number.parseInt(len, 16)) return 'E01';
        return d.writeMemory(BigInt(`0x${addr}`), data) === data.length ? 'OK' : 'E14';
      }
      case 'Z':
      case 'z':
        return this.breakpoint(p);
      case 'c':
      case 'C':
      case 's':
      case 'S':
        return this.resume(p);
      case 'v':
        return this.vPacket(p);
      case 'H': {
        const cpu = this.thread(p.slice(2));
        if (cpu === undefined) return 'E01';
        if (cpu >= 0) {
          if (p[1] === 'g') this.gCpu = cpu;
          else this.cCpu = cpu;
        }
        return 'OK';
      }
      case 'T': {
        const cpu = this.thread(p.slice(1));
        return cpu !== undefined && cpu >= 0 ? 'OK' : 'E01';
      }
      case 'k':
        this.ctx.loop.quit(0);
        return undefined;
      case 'D':
        this.reply('OK');
        this.detach();
        return undefined;
      case 'q':
      case 'Q':
        return this.query(p);
      default:
        return '';
    }
  }

  private query(p: string): string | Uint8Array | undefined {
    if (p.startsWith('qSupported')) {
      this.swbreak = p.includes('swbreak+');
      return `PacketSize=${PACKET_SIZE.toString(16)};qXfer:features:read+;swbreak+;QStartNoAckMode+`;
    }
    if (p === 'QStartNoAckMode') {
      this.reply('OK');
      this.noAck = true;
      return undefined;
    }
    if (p.startsWith('qXfer:features:read:')) return this.features(p);
    if (p === 'qAttached' || p.startsWith('qAttached:')) return '1';
    if (p === 'qC') return `QC${(this.gCpu + 1).toString(16)}`;
    if (p === 'qfThreadInfo')
      return `m${this.ctx.emu.cpus.map((_, i) => (i + 1).toString(16)).join(',')}`;
    if (p === 'qsThreadInfo') return 'l';
    if (p.startsWith('qThreadExtraInfo,')) {
      const cpu = this.thread(p.slice(17));
      const c = cpu === undefined ? undefined : this.ctx.emu.cpus[cpu];
      if (c === undefined) return 'E01';
      return toHex(Buffer.from(`CPU#${c.index} [${c.model.waiting ? 'halted' : 'running'}]`));
    }
    if (p === 'qSymbol::') return 'OK';
    if (p.startsWith('qRcmd,') && this.ctx.monitor !== undefined) {
      const line = Buffer.from(p.slice(6), 'hex').toString();
      const out = this.ctx.monitor(line);
      return out === '' ? 'OK' : toHex(Buffer.from(out.endsWith('\n') ? out : `${out}\n`));
    }
    return '';
  }

  /** `qXfer:features:read:ANNEX:OFFSET,LENGTH` */
  private features(p: string): string | Uint8Array {
    const d = this.debug(this.gCpu) ?? this.ctx.emu.cpus.find((c) => c.model.debug)?.model.debug;
    const m = /^qXfer:features:read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(p);
    if (m === null) return 'E00';
    const text = d?.targetXml[m[1]!];
    if (text === undefined) return 'E00';
    const all = Buffer.from(text);
    const off = Number.parseInt(m[2]!, 16);
    const len = Math.min(Number.parseInt(m[3]!, 16), PACKET_SIZE - 8);
    const part = all.subarray(off, off + len);
    return Buffer.concat([Buffer.from(off + len >= all.length ? 'l' : 'm'), part]);
  }

  private vPacket(p: string): string | undefined {
    if (p === 'vCont?') return 'vCont;c;C;s;S';
    if (p === 'vMustReplyEmpty') return '';
    if (!p.startsWith('vCont;')) return '';
    // Actions apply to the threads they name, the first matching action winning; all-stop:
    // the whole machine resumes, stepping the thread a `s` names.
    let step: number | undefined;
    for (const a of p.slice(6).split(';')) {
      const [action, tid] = a.split(':');
      if (action?.[0] !== 's' && action?.[0] !== 'S') continue;
      const cpu = tid === undefined ? this.cCpu : this.thread(tid);
      if (cpu === undefined) return 'E01';
      step ??= cpu < 0 ? this.cCpu : cpu;
    }
    this.go(step);
    return undefined;
  }

  /** `c [addr]`, `C sig[;addr]`, `s [addr]`, `S sig[;addr]` */
  private resume(p: string): string | undefined {
    const args = p.slice(1);
    const addr = p[0] === 'c' || p[0] === 's' ? args : args.split(';')[1];
    if (addr !== undefined && addr !== '' && !this.setPc(this.cCpu, BigInt(`0x${addr}`)))
      return 'E01';
    this.go(p[0] === 's' || p[0] === 'S' ? this.cCpu : undefined);
    return undefined;
  }

  private go(stepCpu: number | undefined): void {
    for (const [i, c] of this.ctx.emu.cpus.entries())
      if (c.model.debug) c.model.debug.singleStep = i === stepCpu;
    this.waiting = true;
    this.ctx.loop.resume();
  }

  private setPc(cpu: number, addr: bigint): boolean {
    const d = this.debug(cpu);
    const pc = d === undefined ? undefined : registerList(d).find((r) => r.name === 'pc');
    if (d === undefined || pc === undefined) return false;
    const b = new Uint8Array(pc.bitsize / 8);
    for (let i = 0; i < b.length; i++) b[i] = Number((addr >> BigInt(8 * i)) & 0xffn);
    return d.writeRegister(pc.regnum, b);
  }

  /** `Z0,addr,kind` / `z0,...`: software (and hardware, the same to us) breakpoints. */
  private breakpoint(p: string): string {
    const [type, addr] = p.slice(1).split(',');
    if ((type !== '0' && type !== '1') || addr === undefined) return '';
    const a = BigInt(`0x${addr}`);
    if (p[0] === 'Z') this.breakpoints.add(a);
    else this.breakpoints.delete(a);
    this.setBreakpoints([...this.breakpoints]);
    return 'OK';
  }

  private setBreakpoints(addrs: bigint[]): void {
    if (addrs.length === 0) this.breakpoints.clear();
    for (const c of this.ctx.emu.cpus) c.model.debug?.setBreakpoints(addrs);
  }

  /** A thread id: a CPU index, -1 for all (`-1`, or `0`: any), undefined for none such. */
  private thread(id: string): number | undefined {
    if (id === '-1' || id === '0') return -1;
    const n = Number.parseInt(id, 16);
    return Number.isInteger(n) && n >= 1 && n <= this.ctx.emu.cpus.length ? n - 1 : undefined;
  }

  private readAll(d: CpuDebug): string {
    let out = '';
    for (let n = 0; n < d.gRegisters; n++) {
      const v = d.readRegister(n);
      out += v === undefined ? 'xx' : toHex(v);
    }
    return out;
  }

  private writeAll(d: CpuDebug, hex: string): string {
    const data = fromHex(hex);
    if (data === undefined) return 'E01';
    let at = 0;
    for (let n = 0; n < d.gRegisters && at < data.length; n++) {
      const size = d.readRegister(n)?.length ?? 0;
      if (size === 0) continue;
      d.writeRegister(n, data.subarray(at, at + size));
      at += size;
    }
    return 'OK';
  }
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
