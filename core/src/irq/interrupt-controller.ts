/**
 * An interrupt controller as the kernel models it: a named sink with numbered inputs whose
 * levels it records and reports to observers. It is where INTx routing ends (the `ioapic` of
 * a pc) and what qtest's `irq_intercept_in` watches; interrupt delivery to a CPU is outside
 * the kernel (there is no CPU under qtest).
 */
import { EmuhostError } from '@emuhost/sdk';
import type { IrqSink } from './irq-line.js';

export type IrqObserver = (input: number, level: 0 | 1) => void;

export class InterruptController {
  readonly levels: Uint8Array;
  private readonly observers = new Set<IrqObserver>();

  constructor(
    readonly name: string,
    readonly inputs: number,
  ) {
    this.levels = new Uint8Array(inputs);
  }

  /** The sink for input `n`, to connect an IrqLine to. */
  input(n: number): IrqSink {
    this.check(n);
    return (level) => this.setInput(n, level);
  }

  /** Drives input `n` (a line's sink, or qtest's `set_irq_in`). Observers see changes only. */
  setInput(n: number, level: number): void {
    this.check(n);
    const l: 0 | 1 = level ? 1 : 0;
    if (this.levels[n] === l) return;
    this.levels[n] = l;
    for (const o of this.observers) o(n, l);
  }

  /** Watches level changes; returns the function that stops watching. */
  observe(o: IrqObserver): () => void {
    this.observers.add(o);
    return () => this.observers.delete(o);
  }

  private check(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n >= this.inputs) {
      throw new EmuhostError(
        'E_BAD_ARGUMENT',
        `'${this.name}' has inputs 0..${this.inputs - 1}, not ${n}`,
      );
    }
  }
}
