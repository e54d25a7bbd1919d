/**
 * A minimal QMP monitor: what QEMU's libqtest and Python's QEMUMachine need to start and
 * stop a target. The greeting, then one JSON command per line: `qmp_capabilities`,
 * `query-status`, `system_reset`, `stop`/`cont`, `quit`, `query-machines`, `qom-list-types`,
 * `human-monitor-command` (`info mtree`, `info mtree -f`, `info pci`, `info iommu`), and what the
 * target adds (`device_add`, `device_del`, `block_resize`: see `commands.ts`).
 * Unknown commands get QMP's `CommandNotFound` error; malformed JSON a `GenericError`.
 */
import type { Readable, Writable } from 'node:stream';

export interface QmpHandlers {
  readonly version: { major: number; minor: number; micro: number };
  reset(): void;
  quit(): void;
  machines(): { name: string; 'is-default'?: boolean; 'default-ram-id'?: string }[];
  types(): string[];
  /** `info ...` as text, or undefined for an unknown info command. */
  info(what: string): string | undefined;
  /**
   * Commands beyond the built-in ones (`device_add`, `device_del`, `block_resize`): the
   * return value and the events that follow it, an error, or undefined for an unknown one.
   */
  command?(name: string, args: Record<string, unknown>): QmpOutcome | undefined;
}

/** What a command did: its return value and events, or QMP's error. */
export type QmpOutcome =
  | { readonly return: unknown; readonly events?: readonly { event: string; data: unknown }[] }
  | { readonly error: { readonly class: string; readonly desc: string } };

type Json = Record<string, unknown>;

export function serveQmp(input: Readable, output: Writable, h: QmpHandlers): Promise<void> {
  const send = (o: Json) => output.write(`${JSON.stringify(o)}\n`);
  send({
    QMP: { version: { qemu: h.version, package: 'emuhost' }, capabilities: ['oob'] },
  });
  let running = true;
  let buf = '';
  const handle = (text: string) => {
    let msg: Json;
    try {
      msg = JSON.parse(text) as Json;
    } catch (e) {
      send({ error: { class: 'GenericError', desc: `JSON parse error: ${(e as Error).message}` } });
      return;
    }
    const id = msg.id === undefined ? {} : { id: msg.id };
    const cmd = (msg.execute ?? msg['exec-oob']) as string | undefined;
    const args = (msg.arguments ?? {}) as Json;
    const ok = (ret: unknown) => send({ return: ret, ...id });
    switch (cmd) {
      case 'qmp_capabilities':
        return ok({});
      case 'query-status':
        return ok({ status: running ? 'running' : 'paused', singlestep: false, running });
      case 'stop':
        running = false;
        return ok({});
      case 'cont':
        running = true;
        return ok({});
      case 'system_reset':
        h.reset();
        ok({});
        return send({
          event: 'RESET',
          data: { guest: false, reason: 'host-qmp-system-reset' },
          timestamp: now(),
        });
      case 'quit':
        ok({});
        send({
          event: 'SHUTDOWN',
          data: { guest: false, reason: 'host-qmp-quit' },
          timestamp: now(),
        });
        return h.quit();
      case 'query-machines':
        return ok(
          h.machines().map((m) => ({
            'cpu-max': 1,
            'hotpluggable-cpus': false,
            // QEMU 7.2's MachineInfo, exactly: a strict QAPI visitor refuses other members.
            'numa-mem-supported': false,
            deprecated: false,
            ...m,
          })),
        );
      case 'qom-list-types':
        return ok(h.types().map((name) => ({ name })));
      case 'human-monitor-command': {
        const line = String(args['command-line'] ?? '');
        const m = /^\s*info\s+(.*?)\s*$/.exec(line);
        const text = m === null ? undefined : h.info(m[1]!);
        return ok(
          text === undefined
            ? `unknown command: '${line}'\r\n`
            : `${text.replace(/\n/g, '\r\n')}\r\n`,
        );
      }
      default: {
        const r = typeof cmd === 'string' ? h.command?.(cmd, args) : undefined;
        if (r !== undefined) {
          if ('error' in r) return send({ error: r.error, ...id });
          ok(r.return);
          for (const e of r.events ?? []) send({ ...e, timestamp: now() });
          return;
        }
        return send({
          error: {
            class: 'CommandNotFound',
            desc: `The command ${String(cmd)} has not been found`,
          },
          ...id,
        });
      }
    }
  };
  // Commands are JSON objects, not lines (libqtest sends no newline): split where the
  // outermost braces close, minding strings, as QEMU's streaming JSON parser does.
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = 0;
  input.setEncoding('utf8');
  return new Promise((resolve) => {
    input.on('data', (chunk: string) => {
      const from = buf.length;
      buf += chunk;
      for (let i = from; i < buf.length; i++) {
        const c = buf[i];
        if (inString) {
          if (escaped) escaped = false;
          else if (c === '\\') escaped = true;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{') {
          if (depth === 0) start = i;
          depth++;
        } else if (c === '}' && depth > 0 && --depth === 0) {
          handle(buf.slice(start, i + 1));
          buf = buf.slice(i + 1);
          i = -1;
        } else if (depth === 0 && c !== undefined && !/\s/.test(c)) {
          send({ error: { class: 'GenericError', desc: `JSON parse error, unexpected '${c}'` } });
          buf = buf.slice(i + 1);
          i = -1;
        }
      }
      if (depth === 0 && !inString) buf = '';
    });
    input.on('end', () => resolve());
    input.on('close', () => resolve());
    input.on('error', () => resolve());
  });
}

function now() {
  const t = Date.now();
  return { seconds: Math.floor(t / 1000), microseconds: (t % 1000) * 1000 };
}
