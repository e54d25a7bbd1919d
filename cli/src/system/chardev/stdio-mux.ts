/**
 * The terminal shared between the serial console and the monitor, with QEMU's Ctrl-A escapes
 * (its mux chardev, what `-nographic` sets up): `C-a x` quits, `C-a c` switches input between
 * the console and the monitor, `C-a h` prints the keys, `C-a C-a` sends a C-a. Input goes to
 * the frontend with the focus (the first one added, until switched); output from every
 * frontend goes to the terminal, whichever has the focus.
 */
import { Endpoint } from './endpoint.js';

/** Ctrl-A, QEMU's default escape character. */
export const ESCAPE = 0x01;

const HELP = [
  'C-a h    print this help',
  'C-a x    exit emulator',
  'C-a c    switch between console and monitor',
  'C-a C-a  sends C-a',
];

export class StdioMux {
  private readonly frontends: Endpoint[] = [];
  private focus = 0;
  private escaped = false;
  private started = false;

  constructor(
    private readonly base: Endpoint,
    private readonly quit: () => void,
  ) {
    base.onData = (b) => this.feed(b);
  }

  /** A frontend's end of the terminal; the first one added has the focus. */
  add(): Endpoint {
    const base = this.base;
    const ep = new Endpoint(
      (b) => base.write(b),
      () => base.flush(),
    );
    // Connected when it gets the focus (`onOpen`), not before.
    ep.connected = false;
    this.frontends.push(ep);
    return ep;
  }

  /** Tells the focused frontend it has the terminal (a monitor prints its prompt). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.frontends[this.focus]?.onOpen?.();
  }

  /** Bytes typed at the terminal. */
  feed(bytes: Uint8Array): void {
    let from = 0;
    const pass = (to: number) => {
      if (to > from) this.frontends[this.focus]?.input(bytes.subarray(from, to));
    };
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (!this.escaped) {
        if (b === ESCAPE) {
          pass(i);
          from = i + 1;
          this.escaped = true;
        }
        continue;
      }
      this.escaped = false;
      from = i + 1;
      switch (String.fromCharCode(b)) {
        case 'x':
          this.say('emuhost: Terminated\r\n');
          this.quit();
          return;
        case 'c':
          if (this.frontends.length > 1) {
            this.focus = (this.focus + 1) % this.frontends.length;
            this.frontends[this.focus]!.onOpen?.();
          }
          break;
        case 'h':
        case '?':
          this.say(`${HELP.join('\r\n')}\r\n`);
          break;
        default:
          // C-a C-a sends one C-a; any other key after C-a is dropped, as QEMU does.
          if (b === ESCAPE) from = i;
      }
    }
    pass(bytes.length);
  }

  private say(text: string): void {
    this.base.write(Buffer.from(text));
  }
}
