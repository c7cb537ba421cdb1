// Word splitting as systemd's extract_first_word() with EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE:
// shell-like quotes that may start mid-word, C escapes inside and outside quotes, and
// unknown escapes kept literally with a warning (extract_first_word_and_warn's relaxed retry).

import { unescapeOne } from './cescape.ts';

export class WordSyntaxError extends Error {
  /** 0-based offset into the text where the problem is. */
  readonly column: number;
  constructor(message: string, column: number) {
    super(message);
    this.name = 'WordSyntaxError';
    this.column = column;
  }
}

export interface Word {
  readonly text: string;
  /** Offset of the word's first character in the input. */
  readonly start: number;
  /** Offset just past the word. */
  readonly end: number;
}

export interface WordWarning {
  readonly message: string;
  readonly column: number;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';

/** Reads one word starting at `from`; returns undefined at end of input. */
export function extractWord(s: string, from: number, warnings?: WordWarning[]): Word | undefined {
  let i = from;
  while (i < s.length && isSpace(s[i])) i++;
  if (i >= s.length) return undefined;
  const start = i;
  let text = '';
  let quote: '"' | "'" | undefined;
  let quoteStart = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (quote === undefined && isSpace(c)) break;
    if (c === '\\') {
      if (i + 1 >= s.length) {
        if (quote !== undefined) break;
        throw new WordSyntaxError('a backslash ends the line with nothing to escape (use \\\\ for a literal backslash)', i);
      }
      const u = unescapeOne(s, i + 1);
      if (u.text === undefined) {
        warnings?.push({ message: `unknown escape sequence "\\${s[i + 1]}" kept as is (write \\\\ for a literal backslash)`, column: i });
        text += '\\' + s[i + 1];
        i += 2;
      } else {
        text += u.text;
        i += 1 + u.length;
      }
      continue;
    }
    if (quote === undefined && (c === '"' || c === "'")) { quote = c; quoteStart = i; i++; continue; }
    if (quote !== undefined && c === quote) { quote = undefined; i++; continue; }
    text += c;
    i++;
  }
  if (quote !== undefined) throw new WordSyntaxError(`unterminated ${quote === '"' ? 'double' : 'single'} quote`, quoteStart);
  return { text, start, end: i };
}

/** Splits a whole value into words. */
export function splitWords(s: string, warnings?: WordWarning[]): Word[] {
  const words: Word[] = [];
  let i = 0;
  for (;;) {
    const w = extractWord(s, i, warnings);
    if (!w) return words;
    words.push(w);
    i = w.end;
  }
}
