// String.prototype.localeCompare()'s order (ICU's root collation: Node's default locale has no
// tailoring for these characters) for strings of printable ASCII, computed without ICU. The first
// localeCompare() in a process makes ICU build its collator and read its collation data from the
// node binary: ~3.3 MB of RSS for the rest of the process's life (file pages of the binary's ICU
// data and ICU's code, ~0.5 MB of malloc), measured with Node 24 — issue 19, the agent's memory at
// 1,000 idle units (`unitctl list` and the dependency engine's job order sorted with it). Unit
// names, ids and system call names are printable ASCII; anything else is handed to localeCompare()
// itself, so the order is the same for every string (test/api/collate.test.ts checks it against
// localeCompare()).

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

/** a.localeCompare(b) (-1, 0 or 1), without ICU when both are printable ASCII. */
export function localeCompare(a: string, b: string): number {
  if (a === b) return 0;
  if (!printableAscii(a) || !printableAscii(b)) return a.localeCompare(b);
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
