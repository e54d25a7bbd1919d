/**
 * The child process of the durability test: an emulator with virtio-blk on the image given as
 * argv[2], a guest that writes a pattern (argv[3] sectors from sector 8) and then FLUSHes, a
 * line `flushed` on stdout once the FLUSH completed, and then nothing: it idles until the
 * parent kills it (SIGKILL, no chance to clean up).
 */
import { pattern, request, S, SECTOR, setup, T } from './setup.js';

const [file, sectors] = process.argv.slice(2);
const n = Number(sectors);
const t = await setup({ file: file! });
const data = pattern(n * SECTOR, 42);
const buf = t.g.alloc(data.length);
t.d.memwrite(buf, data);
const w = request(t, T.OUT, 8, { addr: buf, len: data.length, write: false });
const f = request(t, T.FLUSH, 0);
if (w.status !== S.OK || f.status !== S.OK) {
  process.stdout.write(`failed ${w.status} ${f.status}\n`);
  process.exit(1);
}
process.stdout.write('flushed\n');
setInterval(() => {}, 1 << 30);
