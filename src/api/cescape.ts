// C-style escapes as systemd's cunescape_one() accepts them (systemd.syntax(7), "Quoting").

export interface Unescaped {
  /** The decoded text, or undefined when the sequence is not a known escape. */
  readonly text: string | undefined;
  /** How many characters after the backslash the sequence used. */
  readonly length: number;
}

const SIMPLE: Readonly<Record<string, string>> = {
  a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
  '\\': '\\', '"': '"', "'": "'", s: ' ',
};

/** Decodes the escape sequence that starts right after a backslash at `s[i]`. */
export function unescapeOne(s: string, i: number): Unescaped {
  const c = s[i];
  if (c === undefined) return { text: undefined, length: 0 };
  const simple = SIMPLE[c];
  if (simple !== undefined) return { text: simple, length: 1 };
  const hex = (n: number): Unescaped => {
    const digits = s.slice(i + 1, i + 1 + n);
    if (digits.length !== n || !/^[0-9a-fA-F]+$/.test(digits)) return { text: undefined, length: 1 };
    const code = parseInt(digits, 16);
    if (code === 0 || code > 0x10ffff) return { text: undefined, length: 1 };
    return { text: String.fromCodePoint(code), length: 1 + n };
  };
  if (c === 'x') return hex(2);
  if (c === 'u') return hex(4);
  if (c === 'U') return hex(8);
  if (/[0-7]/.test(c)) {
    const digits = s.slice(i, i + 3);
    if (!/^[0-7]{3}$/.test(digits)) return { text: undefined, length: 1 };
    const code = parseInt(digits, 8);
    if (code === 0 || code > 0xff) return { text: undefined, length: 1 };
    return { text: String.fromCharCode(code), length: 3 };
  }
  return { text: undefined, length: 1 };
}

/** Escapes a string so that systemd's unquoting reads it back unchanged, in double quotes when needed. */
export function quoteWord(word: string): string {
  if (word !== '' && !/[\s"'\\;]/.test(word) && !/[\x00-\x1f\x7f]/.test(word)) return word;
  let out = '"';
  for (const ch of word) {
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (/[\x00-\x1f\x7f]/.test(ch)) out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + '"';
}
