/**
 * How the demo prints: a heading per step with the virtual time it took, then one line per
 * result, ✓ for a check that held. A check that does not hold throws `DemoCheckFailed`, which
 * the runner prints as ✗ with what was expected and what the hardware gave. Colour only when
 * asked (the caller decides: a TTY and no NO_COLOR).
 */

/** A check against the emulated hardware that did not hold. */
export class DemoCheckFailed extends Error {
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${what}: expected ${expected}, got ${actual}`);
  }
}

/** What a step writes to. */
export interface StepOutput {
  /** A result that holds (checked before with `expect`), marked ✓. */
  ok(line: string): void;
  /** A line of detail under the last result, without a mark. */
  note(line: string): void;
  /** Throws DemoCheckFailed unless `actual` is `expected`. */
  expect<T>(what: string, actual: T, expected: T, show?: (v: T) => string): void;
  /** Throws DemoCheckFailed unless `cond`; `expected` and `actual` say what in words. */
  require(what: string, cond: boolean, expected: string, actual: string): void;
}

const ANSI = {
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  green: '\x1b[32m',
  red: '\x1b[31m',
  off: '\x1b[0m',
};

/** Column where a heading's virtual-time note ends. */
const WIDTH = 92;

export class Reporter {
  private lines: string[] = [];

  constructor(
    private readonly write: (text: string) => void,
    private readonly color: boolean,
  ) {}

  paint(style: keyof typeof ANSI, s: string): string {
    return this.color ? `${ANSI[style]}${s}${ANSI.off}` : s;
  }

  /** Printed at once (not part of a step). */
  line(s = ''): void {
    this.write(`${s}\n`);
  }

  /** The output for one step; its lines are printed under the heading by `endStep`. */
  step(): StepOutput {
    this.lines = [];
    const push = (s: string) => this.lines.push(s);
    return {
      ok: (line) => push(`  ${this.paint('green', '✓')} ${line}`),
      note: (line) => push(`    ${this.paint('dim', line)}`),
      expect: (what, actual, expected, show = String) => {
        if (!Object.is(actual, expected))
          throw new DemoCheckFailed(what, show(expected), show(actual));
      },
      require: (what, cond, expected, actual) => {
        if (!cond) throw new DemoCheckFailed(what, expected, actual);
      },
    };
  }

  /** Prints the step: heading with its virtual time, its lines, and the failure if any. */
  endStep(n: number, title: string, from: number, to: number, failure?: DemoCheckFailed): void {
    const head = `${n}. ${title}`;
    const time = `virtual ${formatNs(from)} → ${formatNs(to)}`;
    this.line();
    this.line(
      `${this.paint('bold', head)}${' '.repeat(Math.max(2, WIDTH - head.length - time.length))}${this.paint('dim', time)}`,
    );
    for (const l of this.lines) this.line(l);
    if (failure !== undefined) {
      this.line(`  ${this.paint('red', '✗')} ${failure.what}`);
      this.line(`      expected ${failure.expected}`);
      this.line(`      got      ${failure.actual}`);
    }
    this.lines = [];
  }
}

/** Virtual nanoseconds, readable: `0 ns`, `1 µs`, `100.001 ms`, `1.5 s`. */
export function formatNs(ns: number): string {
  const units: [number, string][] = [
    [1e9, 's'],
    [1e6, 'ms'],
    [1e3, 'µs'],
  ];
  for (const [scale, unit] of units)
    if (ns >= scale) return `${trim((ns / scale).toFixed(3))} ${unit}`;
  return `${ns} ns`;
}

const trim = (s: string) => s.replace(/\.?0+$/, '');

/** `0x…` in lower case, for addresses and register values. */
export const hex = (n: number | bigint, pad = 0): string =>
  `0x${n.toString(16).padStart(pad, '0')}`;

/** Bytes as `1 MiB`, `4 KiB`, `256 B`. */
export function formatSize(n: number): string {
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}
