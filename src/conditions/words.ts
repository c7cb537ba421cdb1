// The small parsers the checks share: systemd's extract_first_word() with EXTRACT_UNQUOTE,
// parse_boolean(), parse_size() (base 1024), parse_permyriad(), env files (os-release).

/** Blank-separated words; single and double quotes group and are removed, a backslash escapes. Undefined on an open quote. */
export function unquoteWords(s: string, limit = 4096): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (i < s.length && out.length < limit) {
    while (i < s.length && /[ \t\n\r]/.test(s[i]!)) i++;
    if (i >= s.length) break;
    let w = '';
    let quote: string | undefined;
    for (; i < s.length; i++) {
      const c = s[i]!;
      if (quote) { if (c === quote) quote = undefined; else if (c === '\\' && quote === '"' && i + 1 < s.length) w += s[++i]; else w += c; continue; }
      if (/[ \t\n\r]/.test(c)) break;
      if (c === '"' || c === '\'') { quote = c; continue; }
      if (c === '\\' && i + 1 < s.length) { w += s[++i]; continue; }
      w += c;
    }
    if (quote) return undefined;
    out.push(w);
  }
  return out;
}

/** parse_boolean(): yes/no, true/false, on/off, 1/0, y/n, t/f; undefined otherwise. */
export function parseBool(s: string): boolean | undefined {
  const v = s.toLowerCase();
  if (['1', 'yes', 'y', 'true', 't', 'on'].includes(v)) return true;
  if (['0', 'no', 'n', 'false', 'f', 'off'].includes(v)) return false;
  return undefined;
}

const SIZE_SUFFIX: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5, E: 1024 ** 6 };

/** parse_size(s, 1024): "512", "1G", "1.5 M", "2K 512B"; undefined when invalid. */
export function parseSize(s: string): number | undefined {
  let rest = s.trim();
  if (rest === '') return undefined;
  let total = 0;
  while (rest !== '') {
    const m = /^([0-9]+)(?:\.([0-9]+))?[ \t]*([BKMGTPE]?)[ \t]*/.exec(rest);
    if (!m || m[0] === '') return undefined;
    const unit = SIZE_SUFFIX[m[3]!]!;
    total += Number(m[1]) * unit + (m[2] ? Math.floor(Number(`0.${m[2]}`) * unit) : 0);
    rest = rest.slice(m[0].length);
    if (m[3] === '' && rest !== '') return undefined; // a bare number ends the string
  }
  return total;
}

/** parse_permyriad(): "20%", "12.34%", "1234‱" → 2000, 1234, 1234; undefined when invalid or above 100%. */
export function parsePermyriad(s: string): number | undefined {
  const pct = /^([0-9]{1,3})(?:\.([0-9]{1,2}))?%$/.exec(s);
  if (pct) { const v = Number(pct[1]) * 100 + Number((pct[2] ?? '').padEnd(2, '0') || 0); return v <= 10000 ? v : undefined; }
  const pmy = /^([0-9]{1,5})‱$/.exec(s);
  if (pmy) { const v = Number(pmy[1]); return v <= 10000 ? v : undefined; }
  return undefined;
}

/** An env file's KEY=VALUE lines (os-release(5)): quotes removed, comments and bad lines skipped. */
export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^[ \t]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2]!.trim();
    const ws = /^["']/.test(v) ? unquoteWords(v, 1) : undefined;
    out.set(m[1]!, ws?.[0] ?? v);
  }
  return out;
}
