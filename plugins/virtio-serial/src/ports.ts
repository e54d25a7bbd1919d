/**
 * The `ports` option: the device's ports, one per QEMU bus child (`-device virtconsole` and
 * `-device virtserialport` on the device's `virtio-serial-bus`), written as
 *
 *   KIND[@NR]:CHARDEV[:NAME]; ...        e.g.  console:c0;port:c1:org.example.0
 *
 * KIND is `console` (virtconsole: the guest's /dev/hvcN) or `port` (virtserialport: the
 * guest's /dev/vportNpM); NR is QEMU's `nr` property; NAME (the rest of the entry, colons
 * allowed) is QEMU's `name`. emuhost's devices have no children of their own, so the front end
 * folds each bus child into its parent's option (cli/src/qtest/virtio-serial-ports.ts), and a
 * machine file writes the option directly.
 *
 * Numbers follow QEMU's virtio-serial-bus: port 0 is kept for a console (old drivers take it
 * as the console); a console without `nr` takes 0 while it is free, every other port the
 * lowest free number from 1; `nr=0` for a non-console port is refused, as QEMU refuses it.
 */

export type PortKind = 'console' | 'port';

export interface PortSpec {
  /** The port number the guest sees (its `id` in control messages). */
  readonly nr: number;
  readonly kind: PortKind;
  /** The `-chardev` id of the port's host end. */
  readonly chardev: string;
  /** What the guest finds in /sys/class/virtio-ports/vportNpM/name; empty: no PORT_NAME. */
  readonly name: string;
}

/** Parses `ports` for a device of `maxPorts` ports; throws a message naming the entry. */
export function parsePorts(text: string, maxPorts: number): PortSpec[] {
  const taken = new Set<number>();
  const out: PortSpec[] = [];
  const entries = text
    .split(';')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const parsed = entries.map((e) => {
    const m = /^(console|port)(?:@(\d+))?:([^:]+)(?::(.*))?$/.exec(e);
    if (m === null)
      throw new Error(
        `virtio-serial: ports entry '${e}' is not KIND[@NR]:CHARDEV[:NAME] (KIND console or port)`,
      );
    return {
      entry: e,
      kind: m[1] as PortKind,
      nr: m[2] === undefined ? undefined : Number(m[2]),
      chardev: m[3]!,
      name: m[4] ?? '',
    };
  });
  // Explicit numbers first, so an automatic one never takes a number asked for later.
  for (const p of parsed) {
    if (p.nr === undefined) continue;
    if (p.nr >= maxPorts)
      throw new Error(
        `virtio-serial: port number ${p.nr} ('${p.entry}') is past max_ports (${maxPorts})`,
      );
    if (p.nr === 0 && p.kind !== 'console')
      throw new Error(
        `virtio-serial: port number 0 is reserved for virtconsole devices for backward compatibility ('${p.entry}')`,
      );
    if (taken.has(p.nr))
      throw new Error(`virtio-serial: port number ${p.nr} is used twice ('${p.entry}')`);
    taken.add(p.nr);
  }
  const chardevs = new Set<string>();
  const names = new Set<string>();
  for (const p of parsed) {
    let nr = p.nr;
    if (nr === undefined) {
      nr = p.kind === 'console' && !taken.has(0) ? 0 : firstFree(taken, maxPorts);
      if (nr < 0)
        throw new Error(
          `virtio-serial: no free port number for '${p.entry}' (max_ports is ${maxPorts})`,
        );
      taken.add(nr);
    }
    if (chardevs.has(p.chardev))
      throw new Error(`virtio-serial: chardev '${p.chardev}' is given to two ports`);
    chardevs.add(p.chardev);
    if (p.name !== '') {
      if (names.has(p.name))
        throw new Error(`virtio-serial: a port named '${p.name}' already exists`);
      names.add(p.name);
    }
    out.push({ nr, kind: p.kind, chardev: p.chardev, name: p.name });
  }
  return out.sort((a, b) => a.nr - b.nr);
}

/** The lowest free number from 1 (0 is the console's), or -1. */
function firstFree(taken: ReadonlySet<number>, maxPorts: number): number {
  for (let n = 1; n < maxPorts; n++) if (!taken.has(n)) return n;
  return -1;
}
