/**
 * Plugin options: what `-device NAME,key=value,...` or a machine file gives, checked against
 * the plugin's declared `OptionSpec`s and converted to their types. QEMU's spellings are
 * accepted: numbers in decimal, 0x hex or 0 octal with optional K/M/G suffixes for sizes,
 * booleans as on/off, true/false, yes/no.
 */
import { EmuhostError, type OptionSpec, type Options, type OptionValue } from '@emuhost/sdk';

export function resolveOptions(
  specs: Readonly<Record<string, OptionSpec>> | undefined,
  given: Readonly<Record<string, OptionValue>>,
  who: { plugin: string; device?: string },
): Options {
  const out: Record<string, OptionValue> = {};
  const known = specs ?? {};
  for (const [key, raw] of Object.entries(given)) {
    const spec = known[key];
    if (spec === undefined) {
      const names = Object.keys(known);
      throw new EmuhostError(
        'E_OPTION',
        `'${who.plugin}' has no option '${key}' (${names.length ? `options: ${names.join(', ')}` : 'it takes none'})`,
        who,
      );
    }
    out[key] = convert(key, spec, raw, who);
  }
  for (const [key, spec] of Object.entries(known)) {
    if (!(key in out) && spec.default !== undefined) out[key] = spec.default;
  }
  return Object.freeze(out);
}

function convert(
  key: string,
  spec: OptionSpec,
  raw: OptionValue,
  who: { plugin: string; device?: string },
): OptionValue {
  const fail = (): never => {
    throw new EmuhostError(
      'E_OPTION',
      `option '${key}' of '${who.plugin}' must be a ${spec.type}, not ${JSON.stringify(raw)}`,
      who,
    );
  };
  switch (spec.type) {
    case 'string':
      return typeof raw === 'string' ? raw : String(raw);
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string') {
        const v = raw.toLowerCase();
        if (['on', 'true', 'yes', '1'].includes(v)) return true;
        if (['off', 'false', 'no', '0'].includes(v)) return false;
      }
      return fail();
    case 'number': {
      const n =
        typeof raw === 'number' ? raw : typeof raw === 'string' ? parseNumber(raw) : undefined;
      return n !== undefined && Number.isFinite(n) ? n : fail();
    }
  }
}

/** QEMU-style number: decimal, 0x hex, 0 octal, with an optional K/M/G/T suffix (binary). */
export function parseNumber(s: string): number | undefined {
  const m = /^(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)([kmgt])?$/i.exec(s.trim());
  if (m === null) return undefined;
  const digits = m[1]!;
  const base = /^0x/i.test(digits) ? 16 : digits.length > 1 && digits.startsWith('0') ? 8 : 10;
  const v = Number.parseInt(base === 16 ? digits.slice(2) : digits, base);
  const mult =
    { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[(m[2] ?? '').toLowerCase() as 'k'] ?? 1;
  const r = v * mult;
  return Number.isSafeInteger(r) ? r : undefined;
}
