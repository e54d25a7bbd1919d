/**
 * rvtest: the smallest RISC-V machine the system emulator's tests need, until the `virt`
 * machine exists, and a machine plugin of another name than virt (the front end takes any
 * machine with a CPU declaration).
 *
 * - RAM at 0x8000_0000; `-bios` is copied there and every hart starts there; `-kernel` goes
 *   to 0x8020_0000.
 * - A UART stand-in at 0x1000_0000 (serial port 0): register 0 is THR/RBR, 1 is IER (bit 0:
 *   receive interrupt), 5 is LSR (bit 0: data ready; 5 and 6: transmitter empty). A 16-byte
 *   receive FIFO; its interrupt is hart 0's `meip`.
 * - A finisher at 0x10_0000 as QEMU's sifive,test: 0x5555 powers off, `code << 16 | 0x3333`
 *   powers off with exit code `code`, 0x7777 reboots.
 * - mtime (0x200_bff8) and hart 0's mtimecmp (0x200_4000) at 10 MHz; `mtip` when due.
 * - A device tree that is only a marker (`deviceTree` for `-machine dumpdtb`).
 */
import { type CharFrontend, definePlugin, type GuestPhysAddr } from '@emuhost/sdk';

const RAM = 0x80000000;
const KERNEL = 0x80200000;
const UART = 0x10000000;
const FINISHER = 0x100000;
const CLINT = 0x2000000;
/** ns per mtime tick (10 MHz). */
const TICK_NS = 100;
const FIFO = 16;

export default definePlugin({
  kind: 'machine',
  cpu: { arch: 'riscv64', default: 'rv64' },
  create(ctx) {
    const harts = Array.from({ length: ctx.smp ?? 1 }, (_, i) =>
      ctx.cpu!(i, { resetvec: RAM, timebase: 1e9 / TICK_NS }),
    );
    ctx.place(ctx.system, ctx.ram('ram', ctx.ramSize), RAM);

    // The UART: output straight to the backend, input through a FIFO the guest drains.
    const serial = ctx.serial?.(0);
    const meip = harts[0]!.irq('meip');
    const fifo: number[] = [];
    let ier = 0;
    const update = () => meip(ier & 1 && fifo.length > 0 ? 1 : 0);
    const frontend: CharFrontend = {
      canReceive: () => FIFO - fifo.length,
      receive: (bytes) => {
        fifo.push(...bytes);
        update();
      },
    };
    serial?.connect(frontend);
    ctx.place(
      ctx.system,
      ctx.mmio('uart', 8, {
        read: (off) => {
          if (off === 0) {
            const b = fifo.shift() ?? 0;
            update();
            serial?.ready();
            return b;
          }
          if (off === 1) return ier;
          if (off === 5) return (fifo.length > 0 ? 1 : 0) | 0x60;
          return 0;
        },
        write: (off, _size, value) => {
          if (off === 0) serial?.write(Uint8Array.of(Number(value) & 0xff));
          if (off === 1) {
            ier = Number(value) & 1;
            update();
          }
          return undefined;
        },
      }),
      UART,
    );

    ctx.place(
      ctx.system,
      ctx.mmio(
        'finisher',
        4,
        {
          read: () => 0,
          write: (_off, _size, value) => {
            const v = Number(value);
            if ((v & 0xffff) === 0x5555) ctx.requestShutdown!('poweroff', 0);
            if ((v & 0xffff) === 0x3333) ctx.requestShutdown!('poweroff', v >>> 16);
            if ((v & 0xffff) === 0x7777) ctx.requestShutdown!('reboot');
            return undefined;
          },
        },
        { valid: { min: 4, max: 4 } },
      ),
      FINISHER,
    );

    const clock = ctx.clock!;
    const mtip = harts[0]!.irq('mtip');
    let mtimecmp = 2n ** 64n - 1n;
    const timer = clock.timer('mtimecmp', () => mtip(1));
    const mtime = () => BigInt(Math.floor(clock.now() / TICK_NS));
    const arm = () => {
      timer.cancel();
      if (mtimecmp <= mtime()) mtip(1);
      else {
        mtip(0);
        if (mtimecmp < 2n ** 53n / BigInt(TICK_NS)) timer.armAt(Number(mtimecmp) * TICK_NS);
      }
    };
    ctx.place(
      ctx.system,
      ctx.mmio(
        'clint',
        0x10000,
        {
          read: (off) => (off === 0x4000 ? mtimecmp : off === 0xbff8 ? mtime() : 0n),
          write: (off, _size, value) => {
            if (off === 0x4000) {
              mtimecmp = BigInt(value);
              arm();
            }
            return undefined;
          },
        },
        { valid: { min: 8, max: 8 }, impl: { min: 8, max: 8 } },
      ),
      CLINT,
    );

    const fw = ctx.firmware;
    return {
      ready() {
        const load = (what: string, addr: number, image: Uint8Array | undefined) => {
          if (image === undefined) return;
          if (addr + image.length > RAM + ctx.ramSize)
            throw new Error(
              `${what} (${image.length} bytes) does not fit in ${ctx.ramSize} bytes of RAM at 0x${addr.toString(16)}`,
            );
          ctx.load!(addr as GuestPhysAddr, image);
        };
        load('-bios', RAM, fw?.bios);
        load('-kernel', KERNEL, fw?.kernel);
      },
      reset() {
        fifo.length = 0;
        ier = 0;
        mtimecmp = 2n ** 64n - 1n;
        arm();
      },
      // A plugin's realm has no TextEncoder: the marker is ASCII.
      deviceTree: () => fw?.dtb ?? Uint8Array.from('rvtest device tree\n', (c) => c.charCodeAt(0)),
    };
  },
});
