// fnmatch(3) without FNM_PATHNAME (ConditionHost=, KernelVersion=, smbios-field(), the "$="
// operators) and with FNM_PERIOD per path component (ConditionPathExistsGlob=), and glob(3)'s
// {a,b} braces. A token matcher with one backtrack point per star: linear in practice, never
// exponential, whatever the pattern.

type Token =
  | { readonly t: 'lit'; readonly c: string }
  | { readonly t: 'any' }
  | { readonly t: 'star' }
  | { readonly t: 'set'; readonly neg: boolean; readonly test: (c: string) => boolean };

const CLASSES: Record<string, (c: string) => boolean> = {
  alnum: (c) => /^[A-Za-z0-9]$/.test(c), alpha: (c) => /^[A-Za-z]$/.test(c), blank: (c) => c === ' ' || c === '\t',
  cntrl: (c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127, digit: (c) => /^[0-9]$/.test(c),
  graph: (c) => c.charCodeAt(0) > 32 && c.charCodeAt(0) < 127, lower: (c) => /^[a-z]$/.test(c),
  print: (c) => c.charCodeAt(0) >= 32 && c.charCodeAt(0) < 127, punct: (c) => /^[!-/:-@[-`{-~]$/.test(c),
  space: (c) => /^[ \t\n\v\f\r]$/.test(c), upper: (c) => /^[A-Z]$/.test(c), xdigit: (c) => /^[0-9A-Fa-f]$/.test(c),
};

function tokenize(p: string, fold: (c: string) => string): Token[] {
  const out: Token[] = [];
  const chars = [...p];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') { if (out[out.length - 1]?.t !== 'star') out.push({ t: 'star' }); continue; }
    if (c === '?') { out.push({ t: 'any' }); continue; }
    if (c === '\\' && i + 1 < chars.length) { out.push({ t: 'lit', c: fold(chars[++i]!) }); continue; }
    if (c === '[') {
      const set = bracket(chars, i + 1, fold);
      if (set) { out.push(set.token); i = set.end; continue; }
    }
    out.push({ t: 'lit', c: fold(c) });
  }
  return out;
}

/** A bracket expression starting after "[": the token and the index of its "]", or undefined (then "[" is literal). */
function bracket(chars: readonly string[], start: number, fold: (c: string) => string): { token: Token; end: number } | undefined {
  let i = start;
  let neg = false;
  if (chars[i] === '!' || chars[i] === '^') { neg = true; i++; }
  const tests: Array<(c: string) => boolean> = [];
  let first = true;
  for (; i < chars.length; i++) {
    let c = chars[i]!;
    if (c === ']' && !first) {
      const folds = fold('A') !== 'A';
      return { token: { t: 'set', neg, test: (x) => tests.some((f) => f(x) || (folds && (f(x.toUpperCase()) || f(x.toLowerCase())))) }, end: i };
    }
    first = false;
    if (c === '[' && chars[i + 1] === ':') {
      const close = chars.indexOf(':', i + 2);
      if (close > 0 && chars[close + 1] === ']') {
        const f = CLASSES[chars.slice(i + 2, close).join('')];
        if (!f) return undefined;
        tests.push(f);
        i = close + 1;
        continue;
      }
    }
    if (c === '\\' && i + 1 < chars.length) c = chars[++i]!;
    if (chars[i + 1] === '-' && chars[i + 2] !== undefined && chars[i + 2] !== ']') {
      let hi = chars[i + 2]!;
      i += 2;
      if (hi === '\\' && i + 1 < chars.length) hi = chars[++i]!;
      const lo = c;
      tests.push((x) => x >= lo && x <= hi);
      continue;
    }
    const lit = fold(c);
    tests.push((x) => x === lit);
  }
  return undefined;
}

export interface FnmatchFlags {
  /** FNM_CASEFOLD. */
  readonly casefold?: boolean;
  /** FNM_PERIOD: a leading "." must be matched by a "." of the pattern. */
  readonly period?: boolean;
}

export function fnmatch(pattern: string, s: string, flags: FnmatchFlags = {}): boolean {
  const fold = flags.casefold ? (c: string): string => c.toLowerCase() : (c: string): string => c;
  const toks = tokenize(pattern, fold);
  const str = [...s].map(fold);
  if (flags.period && str[0] === '.' && !(toks[0]?.t === 'lit' && toks[0].c === '.')) return false;
  let ti = 0, si = 0, starT = -1, starS = 0;
  const one = (t: Token, c: string): boolean => t.t === 'any' || (t.t === 'lit' && t.c === c) || (t.t === 'set' && t.test(c) !== t.neg);
  while (si < str.length) {
    const t = toks[ti];
    if (t && t.t === 'star') { starT = ti++; starS = si; continue; }
    if (t && one(t, str[si]!)) { ti++; si++; continue; }
    if (starT < 0) return false;
    ti = starT + 1;
    si = ++starS;
  }
  while (toks[ti]?.t === 'star') ti++;
  return ti === toks.length;
}

/** Whether a glob pattern has magic characters (glob(3)'s __glob_pattern_p). */
export const hasMagic = (p: string): boolean => /[*?[]/.test(p.replace(/\\./g, ''));

/** glob(3)'s GLOB_BRACE: "a{b,c{d,e}}f" → abf, acdf, acef; at most `limit` results. */
export function expandBraces(p: string, limit = 1024): string[] {
  const out: string[] = [];
  const go = (s: string): void => {
    if (out.length >= limit) return;
    let depth = 0, open = -1;
    const commas: number[] = [];
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c === '\\') { i++; continue; }
      if (c === '{') { if (depth++ === 0) { open = i; commas.length = 0; } }
      else if (c === ',' && depth === 1) commas.push(i);
      else if (c === '}' && depth > 0 && --depth === 0) {
        if (commas.length === 0) { open = -1; continue; } // "{x}" stays as written
        const pre = s.slice(0, open), post = s.slice(i + 1);
        const cuts = [open, ...commas, i];
        for (let k = 0; k + 1 < cuts.length; k++) go(pre + s.slice(cuts[k]! + 1, cuts[k + 1]) + post);
        return;
      }
    }
    out.push(s);
  };
  go(p);
  return out;
}
