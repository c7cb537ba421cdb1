// The tests a test file declares, read off its source without running it: each call of
// test()/it() (and t.test(), test.todo()…) whose first argument is a string or template
// literal and whose last argument is a function. For the directive walk
// (test/api/directive-walk.test.ts), which asks which directives each test's TITLE names.
//
// A small scanner, not a full TypeScript parser: it knows comments, strings, template
// literals (with nested ${…} expressions), regular-expression literals (told from a division
// by the token before the "/", as JavaScript tokenizers do) and bracket nesting; that is all
// it takes to find call expressions and their arguments in test code.

export interface DeclaredTest {
  /** The title with escapes resolved; each ${…} of a template literal becomes "\u0000". */
  readonly title: string;
  /** 1-based line of the call. */
  readonly line: number;
  /** test.todo()/test.skip(), or an options object (inline, or a const of the same file) with a todo/skip key not literally false. */
  readonly todoOrSkip: boolean;
  /** Identifiers called in the test's callback (harness, open, spawn…), and "A.b" for member calls. */
  readonly calls: ReadonlySet<string>;
}

type Kind = 'id' | 'punc' | 'str' | 'tpl' | 're' | 'num';
interface Tok { readonly k: Kind; readonly v: string; readonly pos: number }

const KEYWORDS_BEFORE_EXPR = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);
const isIdStart = (c: string): boolean => /[A-Za-z_$\u0080-\uffff]/.test(c);
const isIdPart = (c: string): boolean => /[A-Za-z0-9_$\u0080-\uffff]/.test(c);

/** Resolves the escapes of a string or template literal body. */
function cook(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\') { out += c; continue; }
    const n = raw[++i];
    if (n === undefined) break;
    if (n === 'n') out += '\n';
    else if (n === 't') out += '\t';
    else if (n === 'r') out += '\r';
    else if (n === '0') out += '\0';
    else if (n === 'x') { out += String.fromCharCode(parseInt(raw.slice(i + 1, i + 3), 16)); i += 2; }
    else if (n === 'u' && raw[i + 1] === '{') { const end = raw.indexOf('}', i); out += String.fromCodePoint(parseInt(raw.slice(i + 2, end), 16)); i = end; }
    else if (n === 'u') { out += String.fromCharCode(parseInt(raw.slice(i + 1, i + 5), 16)); i += 4; }
    else if (n === '\n') { /* line continuation */ }
    else out += n;
  }
  return out;
}

/** Tokens of `src`; template literals are one token each (their ${…} expressions are scanned and dropped). */
export function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const regexAllowed = (): boolean => {
    const p = toks[toks.length - 1];
    if (!p) return true;
    if (p.k === 'punc') return p.v !== ')' && p.v !== ']';
    if (p.k === 'id') return KEYWORDS_BEFORE_EXPR.has(p.v);
    return false;
  };
  // one template literal starting at src[i] === '`'; returns its cooked text
  const template = (): string => {
    let text = '';
    let raw = '';
    i++;
    while (i < src.length) {
      const c = src[i]!;
      if (c === '\\') { raw += c + (src[i + 1] ?? ''); i += 2; continue; }
      if (c === '`') { i++; return text + cook(raw); }
      if (c === '$' && src[i + 1] === '{') {
        text += cook(raw) + '\u0000';
        raw = '';
        i += 2;
        skipExpression();
        continue;
      }
      raw += c;
      i++;
    }
    return text + cook(raw);
  };
  // the tokens of a ${…} expression, up to its closing brace (consumed)
  const skipExpression = (): void => {
    let depth = 0;
    const mark = toks.length;
    while (i < src.length) {
      if (src[i] === '}' && depth === 0) { i++; break; }
      if (src[i] === '{') depth++;
      if (src[i] === '}') depth--;
      if (!step()) break;
    }
    toks.length = mark;
  };
  // scans one token (or skips blanks/comments); false at the end
  const step = (): boolean => {
    if (i >= src.length) return false;
    const c = src[i]!;
    if (/\s/.test(c)) { i++; return true; }
    if (c === '/' && src[i + 1] === '/') { const e = src.indexOf('\n', i); i = e < 0 ? src.length : e; return true; }
    if (c === '/' && src[i + 1] === '*') { const e = src.indexOf('*/', i + 2); i = e < 0 ? src.length : e + 2; return true; }
    const pos = i;
    if (c === '\'' || c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      toks.push({ k: 'str', v: cook(src.slice(i + 1, j)), pos });
      i = j + 1;
      return true;
    }
    if (c === '`') { const v = template(); toks.push({ k: 'tpl', v, pos }); return true; }
    if (c === '/' && regexAllowed()) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== '\n') {
        if (src[j] === '\\') { j += 2; continue; }
        if (src[j] === '[') inClass = true;
        else if (src[j] === ']') inClass = false;
        else if (src[j] === '/' && !inClass) break;
        j++;
      }
      j++;
      while (j < src.length && isIdPart(src[j]!)) j++;
      toks.push({ k: 're', v: src.slice(i, j), pos });
      i = j;
      return true;
    }
    if (isIdStart(c)) {
      let j = i + 1;
      while (j < src.length && isIdPart(src[j]!)) j++;
      toks.push({ k: 'id', v: src.slice(i, j), pos });
      i = j;
      return true;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < src.length && /[0-9A-Za-z_.]/.test(src[j]!)) j++;
      toks.push({ k: 'num', v: src.slice(i, j), pos });
      i = j;
      return true;
    }
    const three = src.slice(i, i + 3);
    const two = src.slice(i, i + 2);
    const v = ['...', '===', '!==', '**=', '<<=', '>>=', '&&=', '||=', '??='].includes(three) ? three
      : ['=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '**', '<<', '>>'].includes(two) ? two : c;
    toks.push({ k: 'punc', v, pos });
    i += v.length;
    return true;
  };
  while (step()) { /* all tokens */ }
  return toks;
}

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** Index of the token closing the bracket at `open`. */
function closing(toks: readonly Tok[], open: number): number {
  let depth = 0;
  for (let j = open; j < toks.length; j++) {
    const v = toks[j]!.k === 'punc' ? toks[j]!.v : '';
    if (v in OPEN) depth++;
    else if (v === ')' || v === ']' || v === '}') { depth--; if (depth === 0) return j; }
  }
  return toks.length - 1;
}

/** The argument ranges [start, end) of the call whose "(" is at `open`. */
function argumentsOf(toks: readonly Tok[], open: number): Array<[number, number]> {
  const end = closing(toks, open);
  const args: Array<[number, number]> = [];
  let start = open + 1;
  for (let j = open + 1; j < end; j++) {
    const t = toks[j]!;
    if (t.k === 'punc' && t.v in OPEN) { j = closing(toks, j); continue; }
    if (t.k === 'punc' && t.v === ',') { args.push([start, j]); start = j + 1; }
  }
  if (start < end) args.push([start, end]);
  return args;
}

/** Does the object literal at toks[open] ("{") have a todo or skip key whose value is not literally false? */
function objectSaysTodo(toks: readonly Tok[], open: number): boolean {
  const end = closing(toks, open);
  let depth = 0;
  for (let j = open; j < end; j++) {
    const t = toks[j]!;
    if (t.k === 'punc' && t.v in OPEN) depth++;
    else if (t.k === 'punc' && (t.v === ')' || t.v === ']' || t.v === '}')) depth--;
    if (depth !== 1) continue;
    const key = (t.k === 'id' || t.k === 'str') ? t.v : '';
    if ((key === 'todo' || key === 'skip') && toks[j + 1]?.v === ':') {
      const value = toks[j + 2];
      const after = toks[j + 3];
      const literallyFalse = value?.v === 'false' && (after?.v === ',' || after?.v === '}');
      if (!literallyFalse) return true;
    }
    if ((key === 'todo' || key === 'skip') && (toks[j + 1]?.v === ',' || toks[j + 1]?.v === '}')) return true; // shorthand
  }
  return false;
}

const isFunctionStart = (toks: readonly Tok[], [s, e]: [number, number]): boolean => {
  const a = toks[s];
  if (!a) return false;
  if (a.v === 'function' || a.v === 'async') return true;
  // (params) => … or param => …
  for (let j = s; j < e; j++) if (toks[j]!.k === 'punc' && toks[j]!.v === '=>') return j === s + 1 || toks[s]!.v === '(';
  return false;
};

/** The tests `src` declares, in source order. */
export function declaredTests(src: string): DeclaredTest[] {
  const toks = tokenize(src);
  const lineOf = (pos: number): number => src.slice(0, pos).split('\n').length;
  // const NAME = { … } of the file, for options passed by name
  const constObjects = new Map<string, number>();
  for (let j = 0; j + 3 < toks.length; j++) {
    if ((toks[j]!.v === 'const' || toks[j]!.v === 'let') && toks[j + 1]!.k === 'id' && toks[j + 2]!.v === '=' && toks[j + 3]!.v === '{') constObjects.set(toks[j + 1]!.v, j + 3);
  }
  const out: DeclaredTest[] = [];
  for (let j = 0; j < toks.length; j++) {
    const t = toks[j]!;
    if (t.k !== 'id') continue;
    let open: number;
    let todo = false;
    const prev = toks[j - 1];
    if ((t.v === 'test' || t.v === 'it') && toks[j + 1]?.v === '(') {
      // test(…), it(…), and t.test(…) subtests (x.it is no test function)
      if (prev?.v === '.' && t.v !== 'test') continue;
      open = j + 1;
    } else if ((t.v === 'test' || t.v === 'it') && prev?.v !== '.' && toks[j + 1]?.v === '.' && ['todo', 'skip', 'only'].includes(toks[j + 2]?.v ?? '') && toks[j + 3]?.v === '(') {
      open = j + 3;
      todo = toks[j + 2]!.v !== 'only';
    } else continue;
    const args = argumentsOf(toks, open);
    const first = args[0];
    if (!first || first[1] - first[0] !== 1) continue;
    const title = toks[first[0]]!;
    if (title.k !== 'str' && title.k !== 'tpl') continue;
    const last = args[args.length - 1]!;
    if (args.length < 2 || !isFunctionStart(toks, last)) continue;
    if (args.length >= 3) {
      const [s, e] = args[1]!;
      const o = toks[s]!;
      if (o.v === '{') todo ||= objectSaysTodo(toks, s);
      else if (o.k === 'id' && e - s === 1 && constObjects.has(o.v)) todo ||= objectSaysTodo(toks, constObjects.get(o.v)!);
    }
    const calls = new Set<string>();
    for (let k = last[0]; k < last[1]; k++) {
      const c = toks[k]!;
      if (c.k !== 'id' || toks[k + 1]?.v !== '(') continue;
      calls.add(c.v);
      if (toks[k - 1]?.v === '.' && toks[k - 2]?.k === 'id') calls.add(`${toks[k - 2]!.v}.${c.v}`);
    }
    out.push({ title: title.v, line: lineOf(t.pos), todoOrSkip: todo, calls });
  }
  return out;
}

/** The directive names a title names as `Name=` (a name not preceded by a letter, digit or "_"). */
export function namesIn(title: string, names: readonly string[]): string[] {
  return names.filter((n) => new RegExp(`(?<![A-Za-z0-9_])${n}=`).test(title));
}
