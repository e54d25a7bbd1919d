/**
 * The qtest suite: emuhost's QEMU-compatible qtest server (QtestSession served by
 * serveStream, as `emuhost-system-x86_64 -qtest unix:PATH` serves it) over a real unix
 * socket, driven by a client in this process: `readl` one command at a time, `readl`
 * pipelined 1000 lines per write, and a 1 MiB `b64write` + `b64read` round trip.
 *
 * As QEMU's `-qtest unix:PATH` does, the client listens and emuhost connects. Each figure is
 * also a ratio against a baseline timed in the same rounds: the same traffic against a bare
 * unix-socket line echo (the cost of the socket, the event loop and line splitting alone),
 * and for b64 Node's own base64 encode + decode of the same 1 MiB.
 *
 * Socket round trips are asynchronous, which the harness's `measure` cannot time, so this
 * suite times them itself: `options.timeMs` per case split over `options.rounds` rounds that
 * interleave the cases, median round (and ratios paired round by round), as `measure` does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QtestSession, serveStream } from '@emuhost/cli';
import { Emulator, loadBundled, PluginHost } from '@emuhost/host';
import { median } from '../harness.js';
import type { Metric } from '../metrics.js';
import type { Suite } from '../suite.js';

const READL_ADDR = 0x1000;
const READL_VALUE = 0x5eedc0de;
const READL = `readl 0x${READL_ADDR.toString(16)}\n`;
const READL_OK = `OK 0x${READL_VALUE.toString(16).padStart(16, '0')}`;
/** Lines per write in the pipelined case. */
const BATCH = 1000;
const B64_ADDR = 0x100000;
const B64_SIZE = 1 << 20;

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`qtest suite: ${what}; timing it would time an error path`);
}

/** The bench's end of a connection: writes requests, collects answer lines in order. */
class LineClient {
  private want = 0;
  private got = 0;
  private bytes = 0;
  private keep: string[] | null = null;
  private partial = '';
  private waiting: { resolve: (r: Answer) => void; reject: (e: Error) => void } | null = null;
  private broken: Error | null = null;

  constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.onData(chunk));
    const gone = (e?: Error) => this.fail(e ?? new Error('connection closed'));
    socket.on('error', gone);
    socket.on('close', () => gone());
  }

  /**
   * Writes `text` (whole lines) in one write and resolves when `lines` answer lines have
   * arrived: their total size in bytes (newlines included), and the lines themselves when
   * `keep` (counting is all the pipelined case needs, and cheaper).
   */
  request(text: string, lines: number, keep = false): Promise<Answer> {
    if (this.waiting !== null) throw new Error('qtest suite: overlapping requests');
    if (this.broken !== null) return Promise.reject(this.broken);
    this.want = lines;
    this.got = 0;
    this.bytes = 0;
    this.keep = keep ? [] : null;
    this.partial = '';
    const p = new Promise<Answer>((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
    this.socket.write(text);
    return p;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    if (this.waiting === null) {
      this.fail(new Error(`unasked-for data '${chunk.slice(0, 80)}'`));
      return;
    }
    this.bytes += chunk.length;
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', from);
      if (nl < 0) break;
      if (this.keep !== null) {
        this.keep.push(this.partial + chunk.slice(from, nl));
        this.partial = '';
      }
      this.got++;
      from = nl + 1;
    }
    if (this.keep !== null && from < chunk.length) this.partial += chunk.slice(from);
    if (this.got < this.want) return;
    if (this.got > this.want || from < chunk.length) {
      this.fail(new Error(`more answers than requests (${this.got} for ${this.want})`));
      return;
    }
    const w = this.waiting;
    this.waiting = null;
    w.resolve({ bytes: this.bytes, lines: this.keep ?? [] });
  }

  /** Rejects the request waiting, or else the next one. */
  private fail(e: Error): void {
    this.broken ??= e;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(e);
  }
}

interface Answer {
  readonly bytes: number;
  readonly lines: readonly string[];
}

/**
 * A connection the QEMU way round: the bench listens on `path`, the far side connects (as
 * emuhost does for `-qtest unix:PATH`) and is handed to `serve`. Resolves with the bench's
 * end; `far` is the server's, for closing.
 */
async function connectPair(
  path: string,
  serve: (far: Socket) => void,
): Promise<{ client: LineClient; far: Socket }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const far = connect(path);
  await new Promise<void>((resolve, reject) => {
    far.once('connect', () => resolve());
    far.once('error', reject);
  });
  const near = await accepted;
  // Like QEMU, one client: stop listening (the socket file goes with it).
  server.close();
  far.setNoDelay(true);
  serve(far);
  return { client: new LineClient(near), far };
}

/** One thing to time: `run` performs `ops` operations (round trips, or MiB). */
interface AsyncCase {
  readonly name: string;
  readonly ops: number;
  readonly unit: 'ops/s' | 'MiB/s';
  /** At least this many runs per round, however short the budget. */
  readonly minRuns: number;
  readonly run: () => Promise<void>;
}

/** Runs `c` for `budgetMs` (and at least `c.minRuns` times); operations per second. */
async function timeCase(c: AsyncCase, budgetMs: number): Promise<number> {
  const start = performance.now();
  let runs = 0;
  let now = start;
  do {
    await c.run();
    runs++;
    now = performance.now();
  } while (now - start < budgetMs || runs < c.minRuns);
  return (runs * c.ops) / ((now - start) / 1000);
}

/** A deterministic pseudo-random 1 MiB (xorshift32), so base64 has no runs to exploit. */
function payload(seed: number): Buffer {
  const b = Buffer.alloc(B64_SIZE);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < b.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}

export const qtestSuite: Suite = {
  name: 'qtest',
  async run(ctx) {
    const { rounds, timeMs } = ctx.options;
    const budget = timeMs / rounds;
    ctx.log('qtest: building the pc machine');
    const machine = await loadBundled(new PluginHost(), 'pc');
    const emu = new Emulator({ machine, ramSize: 128 << 20, log: () => {} });

    const dir = mkdtempSync(join(tmpdir(), 'emuhost-bench-qtest-'));
    const closers: (() => void)[] = [];
    let served: Promise<void> = Promise.resolve();
    try {
      // The emuhost side, wired as launch.ts wires `-qtest unix:PATH`.
      const qtest = await connectPair(join(dir, 'qtest.sock'), (far) => {
        const session = new QtestSession(emu, { emit: (l) => emitLine(l) });
        const s = serveStream(session, far, far);
        const emitLine = s.emit;
        served = s.done;
      });
      closers.push(
        () => qtest.client.close(),
        () => qtest.far.destroy(),
      );
      // The baseline: a server that echoes each line, over the same kind of socket, with
      // serveStream's shape (latin1 text, lines split, one write per chunk) and no protocol.
      const echo = await connectPair(join(dir, 'echo.sock'), (far) => {
        far.setEncoding('latin1');
        let rest = '';
        far.on('data', (chunk: string) => {
          const text = rest + chunk;
          const end = text.lastIndexOf('\n') + 1;
          rest = text.slice(end);
          if (end === 0) return;
          const lines = text.slice(0, end - 1).split('\n');
          far.write(`${lines.join('\n')}\n`);
        });
      });
      closers.push(
        () => echo.client.close(),
        () => echo.far.destroy(),
      );

      // Check every path before timing it.
      const set = await qtest.client.request(
        `writel 0x${READL_ADDR.toString(16)} 0x${READL_VALUE.toString(16)}\n`,
        1,
        true,
      );
      check(set.lines[0] === 'OK', `writel answered '${set.lines[0]}'`);
      const first = await qtest.client.request(READL, 1, true);
      check(first.lines[0] === READL_OK, `readl answered '${first.lines[0]}', not '${READL_OK}'`);
      const batchText = READL.repeat(BATCH);
      const batch = await qtest.client.request(batchText, BATCH, true);
      check(
        batch.lines.every((l) => l === READL_OK),
        'a pipelined readl batch answered something else',
      );
      const qtestBatchBytes = BATCH * (READL_OK.length + 1);
      const echoed = await echo.client.request(READL, 1, true);
      check(echoed.lines[0] === READL.trimEnd(), `echo answered '${echoed.lines[0]}'`);

      // Two payloads written in turn, so each b64read proves the b64write just before it.
      const data = [payload(0x1234567), payload(0x7654321)];
      const b64 = data.map((d) => d.toString('base64'));
      const writes = b64.map(
        (s) => `b64write 0x${B64_ADDR.toString(16)} 0x${B64_SIZE.toString(16)} ${s}\n`,
      );
      const readText = `b64read 0x${B64_ADDR.toString(16)} 0x${B64_SIZE.toString(16)}\n`;
      const readOk = b64.map((s) => `OK ${s}`);
      let turn = 0;
      const b64RoundTrip = async () => {
        const i = turn;
        turn ^= 1;
        const w = await qtest.client.request(writes[i]!, 1, true);
        check(w.lines[0] === 'OK', `b64write answered '${w.lines[0]?.slice(0, 80)}'`);
        const r = await qtest.client.request(readText, 1, true);
        check(r.lines[0] === readOk[i], 'b64read did not return the data just written');
      };
      await b64RoundTrip();
      await b64RoundTrip();
      let sink = 0;
      let nodeTurn = 0;
      const nodeBase64 = () => {
        const d = data[nodeTurn]!;
        nodeTurn ^= 1;
        const back = Buffer.from(d.toString('base64'), 'base64');
        sink = (sink + back[back.length - 1]!) | 0;
      };
      const roundTrip = Buffer.from(b64[0]!, 'base64');
      check(roundTrip.equals(data[0]!), 'Buffer base64 round trip');

      const mib = B64_SIZE / (1 << 20);
      const cases: AsyncCase[] = [
        {
          name: 'echo.seq',
          ops: 1,
          unit: 'ops/s',
          minRuns: 100,
          run: async () => {
            await echo.client.request(READL, 1);
          },
        },
        {
          name: 'readl.seq',
          ops: 1,
          unit: 'ops/s',
          minRuns: 100,
          run: async () => {
            await qtest.client.request(READL, 1);
          },
        },
        {
          name: 'echo.pipelined',
          ops: BATCH,
          unit: 'ops/s',
          minRuns: 2,
          run: async () => {
            const a = await echo.client.request(batchText, BATCH);
            check(a.bytes === batchText.length, 'echo batch size');
          },
        },
        {
          name: 'readl.pipelined',
          ops: BATCH,
          unit: 'ops/s',
          minRuns: 2,
          run: async () => {
            const a = await qtest.client.request(batchText, BATCH);
            // Any other answer (a FAIL, an ERR) has another length.
            check(a.bytes === qtestBatchBytes, 'a pipelined readl batch answered something else');
          },
        },
        { name: 'node.base64', ops: mib, unit: 'MiB/s', minRuns: 4, run: async () => nodeBase64() },
        { name: 'b64.roundtrip', ops: mib, unit: 'MiB/s', minRuns: 2, run: b64RoundTrip },
      ];

      const perRound = new Map<string, number[]>(cases.map((c) => [c.name, []]));
      // Untimed: every path runs before any is timed (JIT, socket buffers), as in `measure`.
      for (const c of cases) await timeCase(c, budget);
      for (let round = 0; round < rounds; round++) {
        for (const c of cases) {
          const rate = await timeCase(c, budget);
          perRound.get(c.name)!.push(rate);
          ctx.log(`${c.name} round ${round + 1}/${rounds}: ${rate.toFixed(0)} ${c.unit}`);
        }
      }
      ctx.log(`qtest: done (sink ${sink})`);

      const of = (name: string) => perRound.get(name)!;
      const paired = (ours: string, base: string) => {
        const b = of(base);
        return median(of(ours).map((x, i) => x / b[i]!));
      };
      const m: Metric[] = [
        {
          name: 'qtest.readl.seq.ops',
          value: median(of('readl.seq')),
          unit: 'ops/s',
          better: 'higher',
          detail:
            'readl/s over a unix socket, one at a time (send, wait for OK, next); QEMU 7.2 here: ~19k–29k',
        },
        {
          name: 'qtest.readl.seq.ratio',
          value: paired('readl.seq', 'echo.seq'),
          unit: 'ratio',
          better: 'higher',
          detail: 'sequential readl/s / sequential round trips/s of a bare unix-socket line echo',
        },
        {
          name: 'qtest.readl.pipelined.ops',
          value: median(of('readl.pipelined')),
          unit: 'ops/s',
          better: 'higher',
          detail: `readl/s, ${BATCH} lines per write, answers read in order; QEMU 7.2 here: ~130k–160k`,
        },
        {
          name: 'qtest.readl.pipelined.ratio',
          value: paired('readl.pipelined', 'echo.pipelined'),
          unit: 'ratio',
          better: 'higher',
          detail: `pipelined readl/s / lines/s of a bare unix-socket line echo, ${BATCH} lines per write`,
        },
        {
          name: 'qtest.b64.roundtrip.MiBps',
          value: median(of('b64.roundtrip')),
          unit: 'MiB/s',
          better: 'higher',
          detail:
            '1 MiB b64write then b64read of it (answer checked), MiB per round trip; QEMU 7.2 here: ~20–26',
        },
        {
          name: 'qtest.b64.roundtrip.ratio',
          value: paired('b64.roundtrip', 'node.base64'),
          unit: 'ratio',
          better: 'higher',
          detail: 'b64 round trip MiB/s / MiB/s of Buffer base64 encode + decode of the same 1 MiB',
        },
      ];
      return m;
    } finally {
      for (const close of closers) close();
      await served;
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
