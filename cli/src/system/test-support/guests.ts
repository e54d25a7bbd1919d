/**
 * Guest programs for the `rvtest` fixture machine (`__fixtures__/rvtest`): M-mode code at
 * 0x8000_0000 that talks to its UART stand-in, finisher and timer.
 */
import {
  add,
  addi,
  andi,
  ascii,
  assemble,
  beq,
  bltu,
  bne,
  csrrs,
  dword,
  type Item,
  j,
  la,
  label,
  lbu,
  ld,
  li,
  sb,
  sd,
  sw,
  wfi,
  X,
} from './rv-asm.js';

const UART = 0x10000000;
const FINISHER = 0x100000;
const MTIMECMP = 0x2004000;
const MTIME = 0x200bff8;
/** mie bits: machine external and timer interrupts. */
const MIE = 0x304;
const MEIE = 0x800;
const MTIE = 0x80;

/** Prints the string at label `msg` (a0 clobbered); uses s0 = UART. */
function print(msg: string, tag: string): Item[] {
  return [
    la(X.a0, msg),
    label(`${tag}.loop`),
    lbu(X.t0, 0, X.a0),
    beq(X.t0, X.zero, `${tag}.done`),
    sb(X.t0, 0, X.s0),
    addi(X.a0, X.a0, 1),
    j(`${tag}.loop`),
    label(`${tag}.done`),
  ].flat();
}

/** Powers off with `code` through the finisher, then spins. */
function poweroff(code: number, tag: string): Item[] {
  return [
    li(X.t1, FINISHER),
    li(X.t2, code === 0 ? 0x5555 : ((code << 16) | 0x3333) >>> 0),
    sw(X.t2, 0, X.t1),
    label(`${tag}.spin`),
    j(`${tag}.spin`),
  ].flat();
}

/** Prints `text` and powers off with `code`. */
export function hello(text: string, code = 0) {
  return assemble([
    li(X.s0, UART),
    print('msg', 'p'),
    poweroff(code, 'off'),
    label('msg'),
    ascii(`${text}\0`),
  ]);
}

/**
 * A console: echoes every byte it receives, waiting for input with `wfi` (UART receive
 * interrupt enabled in mie, interrupts off in mstatus, so `wfi` returns without a trap).
 * `q` powers off (exit code 0), `!` powers off with exit code 3, `r` reboots.
 */
export function echo() {
  return assemble([
    li(X.s0, UART),
    li(X.t0, 1),
    sb(X.t0, 1, X.s0), // IER: receive interrupt
    li(X.t0, MEIE),
    csrrs(X.zero, MIE, X.t0),
    print('banner', 'b'),
    label('wait'),
    lbu(X.t0, 5, X.s0),
    andi(X.t0, X.t0, 1),
    bne(X.t0, X.zero, 'got'),
    wfi(),
    j('wait'),
    label('got'),
    lbu(X.a1, 0, X.s0),
    li(X.t0, 'q'.charCodeAt(0)),
    beq(X.a1, X.t0, 'quit'),
    li(X.t0, '!'.charCodeAt(0)),
    beq(X.a1, X.t0, 'fail'),
    li(X.t0, 'r'.charCodeAt(0)),
    beq(X.a1, X.t0, 'reboot'),
    sb(X.a1, 0, X.s0),
    j('wait'),
    label('quit'),
    poweroff(0, 'q'),
    label('fail'),
    poweroff(3, 'f'),
    label('reboot'),
    li(X.t1, FINISHER),
    li(X.t2, 0x7777),
    sw(X.t2, 0, X.t1),
    label('r.spin'),
    j('r.spin'),
    label('banner'),
    ascii('echo ready\n\0'),
  ]);
}

/**
 * `n` timer ticks `periodNs` apart, each waited for with `wfi` and printed as `T`, then a
 * poweroff: the run loop's idle paths with a real CPU.
 */
export function ticks(n: number, periodNs: number) {
  return assemble([
    li(X.s0, UART),
    li(X.t0, MTIE),
    csrrs(X.zero, MIE, X.t0),
    li(X.s1, n),
    li(X.a2, MTIME),
    label('next'),
    beq(X.s1, X.zero, 'end'),
    ld(X.t0, 0, X.a2),
    li(X.t1, periodNs / 100),
    add(X.t0, X.t0, X.t1),
    li(X.t1, MTIMECMP),
    sd(X.t0, 0, X.t1),
    label('idle'),
    wfi(),
    ld(X.t2, 0, X.a2),
    bltu(X.t2, X.t0, 'idle'),
    li(X.t0, 'T'.charCodeAt(0)),
    sb(X.t0, 0, X.s0),
    addi(X.s1, X.s1, -1),
    j('next'),
    label('end'),
    li(X.t0, '\n'.charCodeAt(0)),
    sb(X.t0, 0, X.s0),
    poweroff(0, 'off'),
  ]);
}

/**
 * A counter in memory (`counter`), incremented forever at label `loop`: the debugger's
 * target. The counter sits a page away from the code, so that its stores do not make the
 * CPU drop the code it decoded (a store to a code page does).
 */
export function counter() {
  return assemble([
    li(X.t0, 0),
    la(X.t1, 'counter'),
    label('loop'),
    addi(X.t0, X.t0, 1),
    sd(X.t0, 0, X.t1),
    label('after'),
    j('loop'),
    { bytes: new Uint8Array(4096) },
    label('counter'),
    dword(0n),
  ]);
}

/** Prints how often the machine booted (a RAM marker survives a reset), reboots twice, powers off. */
export function rebooter() {
  return assemble([
    li(X.s0, UART),
    la(X.s1, 'boots'),
    ld(X.t0, 0, X.s1),
    addi(X.t0, X.t0, 1),
    sd(X.t0, 0, X.s1),
    li(X.a0, '0'.charCodeAt(0)),
    add(X.a0, X.a0, X.t0),
    sb(X.a0, 0, X.s0),
    li(X.t1, 3),
    beq(X.t0, X.t1, 'done'),
    li(X.t1, FINISHER),
    li(X.t2, 0x7777),
    sw(X.t2, 0, X.t1),
    label('spin'),
    j('spin'),
    label('done'),
    poweroff(0, 'off'),
    label('boots'),
    dword(0n),
  ]);
}
