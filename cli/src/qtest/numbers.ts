/**
 * Numbers as qtest clients write them: QEMU parses with strtoul/strtou64 in base 0, so `0x`
 * hex, a leading `0` for octal, or decimal, and nothing after the digits. QEMU aborts on
 * anything else; we answer FAIL instead, so every parse returns a value or a reason.
 */
export type Parsed<T> = { ok: true; value: T } | { ok: false; why: string };

const U64_MAX = 2n ** 64n - 1n;

/** An unsigned 64-bit integer, as a bigint. */
export function parseU64(s: string | undefined, what: string): Parsed<bigint> {
  if (s === undefined || s === '') return { ok: false, why: `missing ${what}` };
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (m === null) return { ok: false, why: `${what} '${s}' is not a number` };
  const v =
    s.length > 1 && s[0] === '0' && s[1] !== 'x' && s[1] !== 'X'
      ? BigInt(`0o${s.slice(1)}`)
      : BigInt(s);
  if (v > U64_MAX) return { ok: false, why: `${what} '${s}' does not fit in 64 bits` };
  return { ok: true, value: v };
}

/** An unsigned integer that must be exact as a JavaScript number (addresses, sizes). */
export function parseNumber(
  s: string | undefined,
  what: string,
  max = Number.MAX_SAFE_INTEGER,
): Parsed<number> {
  const p = parseU64(s, what);
  if (!p.ok) return p;
  if (p.value > BigInt(max))
    return {
      ok: false,
      why: `${what} ${s} is larger than ${max === Number.MAX_SAFE_INTEGER ? '2^53 - 1' : `0x${max.toString(16)}`}`,
    };
  return { ok: true, value: Number(p.value) };
}

/** A signed integer (set_irq_in's level). */
export function parseI64(s: string | undefined, what: string): Parsed<number> {
  if (s === undefined || s === '') return { ok: false, why: `missing ${what}` };
  const neg = s.startsWith('-');
  const p = parseU64(neg ? s.slice(1) : s, what);
  if (!p.ok) return p;
  if (p.value > 2n ** 63n) return { ok: false, why: `${what} '${s}' does not fit in 64 bits` };
  return { ok: true, value: Number(neg ? -p.value : p.value) };
}
