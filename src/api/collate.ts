// String.prototype.localeCompare()'s order for strings of printable ASCII, computed without ICU
// when the process's default locale collates them in ICU's root order (C, POSIX, unset, English:
// see rootOrder()). The first localeCompare() in a process makes ICU build its collator and read
// its collation data from the node binary: ~3.3 MB of RSS for the rest of the process's life (file
// pages of the binary's ICU data and ICU's code, ~0.5 MB of malloc), measured with Node 24 — issue
// 19, the agent's memory at 1,000 idle units (`unitctl list` and the dependency engine's job order
// sorted with it). Unit names, ids and system call names are printable ASCII; anything else, and
// every string under another locale, is handed to localeCompare() itself, so the order is the same
// (test/api/collate.test.ts checks it against localeCompare()).

/**
 * Whether the default locale of a process with this environment collates as ICU's root: ICU takes
 * it from LC_ALL, else LC_MESSAGES, else LANG (one that is set but empty counts: "und", the root);
 * none, C or POSIX give en-US. English and those have no tailoring; other languages may have one
 * that reorders ASCII (da-DK sorts "aa" after "z", lt-LT "y" before "j", et-EE "z" after "s"), so
 * they keep localeCompare(). Modifiers (@...) too.
 */
export function rootOrder(env: Readonly<Record<string, string | undefined>>): boolean {
  const id = env['LC_ALL'] ?? env['LC_MESSAGES'] ?? env['LANG'] ?? 'C';
  return /^(C|POSIX|en([_-][A-Za-z0-9]+)*)?(\.[A-Za-z0-9_-]+)?$/.test(id);
}

/** ICU reads the environment once, at its first use: so does this (the agent never changes these variables). */
const ROOT_ORDER = rootOrder(process.env);

/**
 * The root collation's primary order of printable ASCII (U+0020-U+007E), lowest first; a capital
 * letter has its small letter's primary weight and sorts after it at the tertiary level. Every one
 * of these characters has one collation element of its own (no contractions, no expansions, no
 * ignorables) and the same secondary weight, so two such strings compare as: their primary weights
 * in sequence (a prefix first), then the first difference of case (small first).
 */
const PRIMARY_ORDER = ' _-,;:!?.\'"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz';

/** Primary weight + 1 of a printable ASCII character by its code; 0 for any other code below 128. */
const PRIMARY = ((): Uint8Array => {
  const w = new Uint8Array(128);
  for (let i = 0; i < PRIMARY_ORDER.length; i++) {
    const c = PRIMARY_ORDER.charCodeAt(i);
    w[c] = i + 1;
    if (c >= 0x61 && c <= 0x7a) w[c - 0x20] = i + 1; // A-Z: their small letter's
  }
  return w;
})();

function printableAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** a.localeCompare(b) (-1, 0 or 1), without ICU when both are printable ASCII and the locale's order is the root's. */
export function localeCompare(a: string, b: string): number {
  if (a === b) return 0;
  if (!ROOT_ORDER || !printableAscii(a) || !printableAscii(b)) return a.localeCompare(b);
  const n = Math.min(a.length, b.length);
  let tertiary = 0;
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x === y) continue;
    const px = PRIMARY[x]!, py = PRIMARY[y]!;
    if (px !== py) return px < py ? -1 : 1;
    if (tertiary === 0) tertiary = x > y ? -1 : 1; // the same letter in two cases: the small one (the higher code) first
  }
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return tertiary;
}
