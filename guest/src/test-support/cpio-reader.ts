/**
 * A naive newc reader for tests: the format read field by field, as a second implementation
 * to hold the writer against.
 */
export interface ReadEntry {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevmajor: number;
  rdevminor: number;
  data: Uint8Array;
}

/** Reads every member up to and including `TRAILER!!!`; throws on anything malformed. */
export function readNewc(archive: Uint8Array): ReadEntry[] {
  const text = (a: number, b: number) => Buffer.from(archive.subarray(a, b)).toString('latin1');
  const out: ReadEntry[] = [];
  let at = 0;
  for (;;) {
    if (text(at, at + 6) !== '070701') throw new Error(`no newc magic at ${at}`);
    const f = (i: number) => Number.parseInt(text(at + 6 + i * 8, at + 14 + i * 8), 16);
    const namesize = f(11);
    const filesize = f(6);
    const nameAt = at + 110;
    const name = text(nameAt, nameAt + namesize - 1);
    if (archive[nameAt + namesize - 1] !== 0)
      throw new Error(`name of ${name} is not NUL-terminated`);
    const dataAt = Math.ceil((nameAt + namesize) / 4) * 4;
    for (let i = nameAt + namesize; i < dataAt; i++)
      if (archive[i] !== 0) throw new Error('bad name padding');
    const entry: ReadEntry = {
      name,
      ino: f(0),
      mode: f(1),
      uid: f(2),
      gid: f(3),
      nlink: f(4),
      mtime: f(5),
      rdevmajor: f(9),
      rdevminor: f(10),
      data: archive.slice(dataAt, dataAt + filesize),
    };
    if (f(12) !== 0) throw new Error('check field set');
    out.push(entry);
    at = Math.ceil((dataAt + filesize) / 4) * 4;
    if (name === 'TRAILER!!!') {
      if (at !== archive.length) throw new Error(`${archive.length - at} bytes after the trailer`);
      return out;
    }
  }
}
