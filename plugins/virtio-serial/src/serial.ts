/**
 * The virtio console model (virtio 1.2, 5.3) with MULTIPORT: port 0's queues, the control
 * queues, then two queues per further port; the driver learns the ports over the control
 * queue and each port is a `Port` joined to a character backend.
 *
 * The control exchange, as QEMU's virtio-serial-bus runs it: the driver sends DEVICE_READY,
 * the device answers DEVICE_ADD for every port; for each PORT_READY the device says
 * CONSOLE_PORT (a console: Linux makes it /dev/hvcN), PORT_NAME (a named port) and PORT_OPEN 1
 * (the host end is open: backends here are always open); the driver's PORT_OPEN says when the
 * guest opened or closed its end. Messages for the driver wait (in saved state) for control
 * receive buffers instead of being dropped as QEMU drops them, up to a bound a driver that
 * never posts any cannot grow past.
 *
 * A driver's mistakes are results: a control message shorter than its header, an unknown port
 * or event, are logged and ignored (QEMU's error_report, and on); a broken ring is the
 * library's DEVICE_NEEDS_RESET. Emergency write (EMERG_WRITE, on by default as in QEMU) sends
 * one byte to port 0's backend from the configuration space, with or without queues.
 */
import type { CharBackend } from '@emuhost/sdk';
import {
  bit,
  type Chain,
  sgRead,
  sgWrite,
  type VirtioDevice,
  type VirtioHost,
} from '@emuhost/virtio';
import {
  CONTROL_SIZE,
  type ControlMessage,
  decodeControl,
  EVENT,
  encodeControl,
  utf8,
} from './control.js';
import { Port, type PortState, portOfQueue } from './port.js';
import type { PortSpec } from './ports.js';

/** Console feature bits (5.3.3). */
export const CONSOLE_F = { SIZE: 0, MULTIPORT: 1, EMERG_WRITE: 2 } as const;

/** Configuration space (5.3.4): cols, rows, max_nr_ports, emerg_wr. */
export const CONSOLE_CONFIG = { COLS: 0, ROWS: 2, MAX_NR_PORTS: 4, EMERG_WR: 8, SIZE: 12 } as const;

export const CONTROL_RX = 2;
export const CONTROL_TX = 3;

/** QEMU's queue sizes: 128 per data queue, 32 per control queue. */
const DATA_QUEUE = 128;
const CONTROL_QUEUE = 32;

export interface SerialOptions {
  readonly ports: readonly PortSpec[];
  /** max_nr_ports: how many ports the driver makes queues for. */
  readonly maxPorts: number;
  readonly emergencyWrite: boolean;
}

export interface SerialState {
  readonly driverOk: boolean;
  readonly ports: readonly PortState[];
  /** Control messages not yet given to the driver. */
  readonly control: readonly (readonly number[])[];
}

export function createSerial(
  host: VirtioHost,
  backend: (chardev: string) => CharBackend,
  opts: SerialOptions,
  saved: SerialState | undefined,
): VirtioDevice {
  const { ctx, dma } = host;
  const multiport = () => host.negotiated(CONSOLE_F.MULTIPORT);
  /** DRIVER_OK was set: the device may use the driver's buffers. */
  let live = saved?.driverOk ?? false;
  const pending: Uint8Array[] = (saved?.control ?? []).map((m) => Uint8Array.from(m));
  // Every port's announcement fits, with room for the driver's repeats of PORT_OPEN.
  const maxPending = 8 * (opts.ports.length + 1);
  let droppedWarned = false;

  const accepting = (p: Port) => live && (p.guestOpen || (!multiport() && p.spec.nr === 0));
  const ports = new Map<number, Port>();
  for (const spec of opts.ports)
    ports.set(spec.nr, new Port(spec, host, backend(spec.chardev), accepting));
  for (const p of ports.values()) {
    p.restore(saved?.ports.find((s) => s.nr === p.spec.nr));
    p.attach();
  }

  const config = new Uint8Array(CONSOLE_CONFIG.SIZE);
  new DataView(config.buffer).setUint32(CONSOLE_CONFIG.MAX_NR_PORTS, opts.maxPorts, true);

  const queueSizes = [DATA_QUEUE, DATA_QUEUE, CONTROL_QUEUE, CONTROL_QUEUE];
  for (let n = 1; n < opts.maxPorts; n++) queueSizes.push(DATA_QUEUE, DATA_QUEUE);

  /** A control receive buffer held for the next message (found again after a restore). */
  let controlRx: Chain | undefined;
  const flushControl = () => {
    if (!live) return;
    for (;;) {
      if (controlRx === undefined) {
        const held = host.inflight(CONTROL_RX)[0];
        controlRx = held !== undefined ? host.rewalk(CONTROL_RX, held) : host.pop(CONTROL_RX);
      }
      const c = controlRx;
      const msg = pending[0];
      if (c === undefined || msg === undefined) return;
      controlRx = undefined;
      pending.shift();
      const w = sgWrite(dma, c.in, 0, msg);
      if (w.transferred < msg.length)
        ctx.log.warn(
          `control message for port ${decodeControl(msg).id} cut to ${w.transferred} of ${msg.length} bytes${w.error ? ` (${w.error})` : ''}`,
        );
      host.complete(CONTROL_RX, c.head, w.transferred);
    }
  };

  const send = (m: ControlMessage, extra?: Uint8Array) => {
    if (pending.length >= maxPending) {
      if (!droppedWarned)
        ctx.log.warn('the driver posts no control receive buffers: control messages dropped');
      droppedWarned = true;
      return;
    }
    pending.push(encodeControl(m, extra));
    flushControl();
  };

  const portFor = (id: number, what: string): Port | undefined => {
    const p = ports.get(id);
    if (p === undefined) ctx.log.warn(`${what} for port ${id}, which does not exist: ignored`);
    return p;
  };

  const onControl = (m: ControlMessage) => {
    switch (m.event) {
      case EVENT.DEVICE_READY:
        if (m.value !== 1) {
          ctx.log.warn('the driver failed to initialise the device (DEVICE_READY 0)');
          return;
        }
        for (const p of ports.values()) send({ id: p.spec.nr, event: EVENT.DEVICE_ADD, value: 1 });
        return;
      case EVENT.PORT_READY: {
        const p = portFor(m.id, 'PORT_READY');
        if (p === undefined) return;
        if (m.value !== 1) {
          ctx.log.warn(`the driver failed to add port ${m.id} (PORT_READY 0)`);
          return;
        }
        if (p.spec.kind === 'console') send({ id: m.id, event: EVENT.CONSOLE_PORT, value: 1 });
        if (p.spec.name !== '')
          send({ id: m.id, event: EVENT.PORT_NAME, value: 1 }, utf8(p.spec.name));
        send({ id: m.id, event: EVENT.PORT_OPEN, value: 1 });
        return;
      }
      case EVENT.PORT_OPEN: {
        const p = portFor(m.id, 'PORT_OPEN');
        if (p === undefined) return;
        p.guestOpen = m.value === 1;
        if (p.guestOpen) p.wake();
        return;
      }
      default:
        ctx.log.warn(`unexpected control event ${m.event} from the driver (port ${m.id}): ignored`);
    }
  };

  const serveControl = () => {
    const head = new Uint8Array(CONTROL_SIZE);
    for (let c = host.pop(CONTROL_TX); c !== undefined; c = host.pop(CONTROL_TX)) {
      const r = sgRead(dma, c.out, 0, head);
      host.complete(CONTROL_TX, c.head, 0);
      if (r.transferred < CONTROL_SIZE) {
        ctx.log.warn(
          `a control message of ${r.transferred} bytes${r.error ? ` (${r.error})` : ''}, shorter than its ${CONTROL_SIZE}-byte header: ignored`,
        );
        continue;
      }
      onControl(decodeControl(head));
    }
  };

  /** A data queue with no port behind it: its buffers are given back unused (QEMU's discard). */
  const discard = (q: number) => {
    for (let c = host.pop(q); c !== undefined; c = host.pop(q)) host.complete(q, c.head, 0);
  };

  return {
    features: bit(CONSOLE_F.MULTIPORT) | (opts.emergencyWrite ? bit(CONSOLE_F.EMERG_WRITE) : 0n),
    queueSizes,
    config,
    configWrite(offset, _size, value) {
      // 5.3.6: emergency write works before any negotiation, so it follows the offer.
      if (offset !== CONSOLE_CONFIG.EMERG_WR || !opts.emergencyWrite) return;
      ports.get(0)?.emergencyWrite(value & 0xff);
    },
    driverOk() {
      live = true;
      flushControl();
      for (const p of ports.values()) p.wake();
    },
    queueNotify(q) {
      if (q === CONTROL_TX) serveControl();
      else if (q === CONTROL_RX) flushControl();
      else {
        const p = ports.get(portOfQueue(q));
        if (p === undefined) discard(q);
        else if (q === p.txq) p.transmit();
        else p.wake();
      }
    },
    reset() {
      live = false;
      pending.length = 0;
      controlRx = undefined;
      droppedWarned = false;
      for (const p of ports.values()) p.reset();
    },
    saveState: (): SerialState => ({
      driverOk: live,
      ports: [...ports.values()].map((p) => p.save()),
      control: pending.map((m) => [...m]),
    }),
  };
}
