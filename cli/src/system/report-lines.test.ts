/** Report lines wait for the guest console's line to end, and never wait forever. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ReportLines } from './report-lines.js';

function sink() {
  const s = new PassThrough();
  let all = '';
  s.on('data', (b: Buffer) => {
    all += b.toString();
  });
  return { s, text: () => all };
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe('ReportLines', () => {
  it('writes at once between console lines, after the line while the guest is mid-line', async () => {
    const out = sink();
    const err = sink();
    const r = new ReportLines(out.s, err.s, 60_000);
    r.reports.write('first\n');
    await tick();
    expect(err.text()).toBe('first\n');
    r.console.write('EMUHOST-IO: rou');
    await tick();
    r.reports.write('second\n');
    await tick();
    expect(err.text(), 'held while the console is mid-line').toBe('first\n');
    r.console.write('nd 1 ok\n');
    await tick();
    expect(err.text()).toBe('first\nsecond\n');
    expect(out.text()).toBe('EMUHOST-IO: round 1 ok\n');
  });

  it('a console that never ends its line holds a report at most maxWaitMs', async () => {
    const out = sink();
    const err = sink();
    const r = new ReportLines(out.s, err.s, 10);
    r.console.write('login: ');
    await tick();
    r.reports.write('reload x\n');
    await tick(100);
    expect(err.text()).toBe('\nreload x\n');
  });
});
