/**
 * What the `test` flavour's `/init` (guest/init/test.sh) prints, read back on the host: the
 * contract between that script and a boot test. Every line meant for the host starts with
 * `EMUHOST-GUEST:`; a dump sits between `<name> begin` and `<name> end` marker lines.
 *
 * Console output is taken as it comes off the UART: `\r\n` line ends, kernel messages
 * between the script's lines. Lines that do not start with the marker are ignored except
 * inside a dump.
 */

export const GUEST_MARKER = 'EMUHOST-GUEST:';
/** What the test flavour writes at the start of sector 1; a host test checks the disk image. */
export const GUEST_DISK_WRITE = 'EMUHOST-GUEST-WROTE-THIS-SECTOR!';

export interface GuestPciDevice {
  /** `0000:00:01.0` */
  readonly address: string;
  /** Hex without `0x`: `1af4`. */
  readonly vendor: string;
  readonly device: string;
  /** Hex without `0x`: `010000`. */
  readonly class: string;
  /** The bound driver, or `none`. */
  readonly driver: string;
}

export interface GuestReport {
  /** The script started (its first line arrived). */
  readonly initReached: boolean;
  /** `uname -a` */
  readonly uname?: string;
  /** `/proc/cpuinfo`, if its dump arrived whole. */
  readonly cpuinfo?: string;
  /** Module -> `ok`, `FAILED` or `builtin`. */
  readonly insmod: Readonly<Record<string, string>>;
  /** Present once the dump arrived whole. */
  readonly pci?: readonly GuestPciDevice[];
  readonly disk?:
    | { readonly present: true; readonly sector0: string; readonly write?: 'ok' | 'FAILED' }
    | { readonly present: false };
  /** 16 random bytes in hex, `absent` (no source probed), or `FAILED (<source>)`. */
  readonly hwrng?: string;
  /** The script reached `poweroff -f`. */
  readonly poweroff: boolean;
  /** Every marker line, marker removed, in order. */
  readonly lines: readonly string[];
}

/** Reads a console transcript. */
export function parseGuestReport(console: string): GuestReport {
  const lines: string[] = [];
  const dumps = new Map<string, string[]>();
  let inDump: string[] | undefined;
  let dumpName = '';
  for (const raw of console.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (!line.startsWith(GUEST_MARKER)) {
      inDump?.push(line);
      continue;
    }
    const body = line.slice(GUEST_MARKER.length).trim();
    lines.push(body);
    const dump = /^(\S+) (begin|end)$/.exec(body);
    if (dump?.[2] === 'begin') {
      inDump = [];
      dumpName = dump[1]!;
    } else if (dump?.[2] === 'end' && dump[1] === dumpName && inDump) {
      dumps.set(dumpName, inDump);
      inDump = undefined;
    }
  }

  const insmod: Record<string, string> = {};
  const pci: GuestPciDevice[] = [];
  let uname: string | undefined;
  let disk: GuestReport['disk'];
  let hwrng: string | undefined;
  for (const l of lines) {
    const [word, ...rest] = l.split(' ');
    const arg = rest.join(' ');
    if (word === 'uname') uname = arg;
    else if (word === 'insmod' && rest.length >= 2) insmod[rest[0]!] = rest[1]!;
    else if (word === 'pci' && rest.length === 4) {
      const [address, ids, cls, driver] = rest as [string, string, string, string];
      const [vendor = '', device = ''] = ids.split(':');
      pci.push({ address, vendor, device, class: cls, driver });
    } else if (word === 'disk' && rest[0] === 'absent') disk = { present: false };
    else if (word === 'disk' && rest[0] === 'sector0')
      disk = { present: true, sector0: rest.slice(1).join(' ') };
    else if (word === 'disk' && rest[0] === 'write' && disk?.present) {
      disk = { ...disk, write: rest[1] === 'ok' ? 'ok' : 'FAILED' };
    } else if (word === 'hwrng') hwrng = arg;
  }
  const cpuinfo = dumps.get('cpuinfo');
  return {
    initReached: lines.some((l) => l.startsWith('init reached')),
    ...(uname !== undefined ? { uname } : {}),
    ...(cpuinfo ? { cpuinfo: cpuinfo.join('\n') } : {}),
    insmod,
    ...(dumps.has('pci') ? { pci } : {}),
    ...(disk ? { disk } : {}),
    ...(hwrng !== undefined ? { hwrng } : {}),
    poweroff: lines.includes('poweroff'),
    lines,
  };
}
