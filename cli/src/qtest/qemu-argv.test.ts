import { describe, expect, it } from 'vitest';
import { parseQemuArgs } from './qemu-argv.js';

describe('parseQemuArgs', () => {
  it('parses the command line libqtest starts its target with', () => {
    const a = parseQemuArgs(
      '-qtest unix:/tmp/qtest-1.sock -qtest-log /dev/null -chardev socket,path=/tmp/qtest-1.qmp,id=char0 -mon chardev=char0,mode=control -display none -M pc -device pc-testdev -accel qtest'.split(
        ' ',
      ),
    );
    expect(a.qtest).toEqual({ kind: 'unix', path: '/tmp/qtest-1.sock', server: false, wait: true });
    expect(a.qtestLog).toBe('/dev/null');
    expect(a.qmp).toEqual(['char0']);
    expect(a.machine.type).toBe('pc');
    expect(a.devices).toEqual([{ driver: 'pc-testdev', props: {} }]);
    expect(a.accel).toBe('qtest');
  });

  it("logs QTEST_LOG=1's -qtest-log /dev/fd/2 to the stderr stream instead of reopening it", () => {
    for (const p of ['/dev/fd/2', '/dev/stderr', '/proc/self/fd/2'])
      expect(parseQemuArgs(['-qtest-log', p]).qtestLog).toBeUndefined();
    expect(parseQemuArgs(['-qtest-log', '/tmp/q.log']).qtestLog).toBe('/tmp/q.log');
    expect(parseQemuArgs([]).qtestLog).toBeUndefined();
  });
});
