/**
 * JSON text that knows where things are: a syntax error at its line and column, and the line
 * and column of any value by its path in a problem's own words (`devices[1].bus`), so that a
 * machine file's or a manifest's problems point into the file as a compiler's do. Parsing is
 * jsonc-parser's (VS Code's), strict JSON: no comments, no trailing commas.
 */
import jsonc from 'jsonc-parser';

/** A 1-based line and a 1-based column, as editors and `file:line:column` links count. */
export interface TextPosition {
  readonly line: number;
  readonly column: number;
}

export interface JsonSyntaxError extends TextPosition {
  /** What the parser expected, in words (`a value`, `a comma`...). */
  readonly text: string;
}

export interface JsonSource {
  /** The parsed value, or undefined when the text has syntax errors. */
  readonly value: unknown;
  /** Every syntax error, in order (empty when the text is JSON). */
  readonly errors: readonly JsonSyntaxError[];
  /**
   * Where the value at `path` (`devices[1].bus`, `ram`) starts, or its property name with
   * `part` 'key' (what is wrong with an unknown field); undefined when there is none.
   */
  locate(path: string, part?: 'value' | 'key'): TextPosition | undefined;
}

const WORDS: Partial<Record<string, string>> = {
  InvalidSymbol: 'a character that cannot start a value',
  InvalidNumberFormat: 'a malformed number',
  PropertyNameExpected: 'a property name (in double quotes)',
  ValueExpected: 'a value',
  ColonExpected: "a ':'",
  CommaExpected: "a ','",
  CloseBraceExpected: "a '}'",
  CloseBracketExpected: "a ']'",
  EndOfFileExpected: 'the end of the file',
  InvalidCommentToken: 'no comment (JSON has none)',
  UnexpectedEndOfComment: 'the end of a comment',
  UnexpectedEndOfString: "the end of a string (a closing '\"')",
  UnexpectedEndOfNumber: 'the rest of a number',
  InvalidUnicode: 'a valid \\u escape',
  InvalidEscapeCharacter: 'a valid escape',
  InvalidCharacter: 'no control character inside a string',
};

export function parseJsonSource(text: string): JsonSource {
  const found: jsonc.ParseError[] = [];
  const tree = jsonc.parseTree(text, found, { allowTrailingComma: false, disallowComments: true });
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const position = (offset: number): TextPosition => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - lineStarts[lo]! + 1 };
  };
  const errors = found.map((e) => {
    const code = jsonc.printParseErrorCode(e.error);
    return { ...position(e.offset), text: `expected ${WORDS[code] ?? code}` };
  });
  return {
    value: errors.length === 0 && tree !== undefined ? jsonc.getNodeValue(tree) : undefined,
    errors,
    locate(path, part = 'value') {
      if (tree === undefined) return undefined;
      const node = jsonc.findNodeAtLocation(tree, parsePath(path));
      if (node === undefined) return undefined;
      const key = node.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
      return position(part === 'key' && key !== undefined ? key.offset : node.offset);
    },
  };
}

/** `devices[1].options.dma_mask` → ['devices', 1, 'options', 'dma_mask']. */
export function parsePath(path: string): (string | number)[] {
  const segments: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    segments.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  }
  return segments;
}
