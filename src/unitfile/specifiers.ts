// Unit-name specifiers (systemd.unit(5), "Specifiers") that the converter can resolve: those
// that depend only on the unit's name. Node-dependent ones (%H, %t, %u, ...) and "%%" stay in
// the text for the agent, which expands them on the node at run time.

export interface UnitName {
  /** "getty@tty1.service" */
  readonly full: string;
  /** "getty" */
  readonly prefix: string;
  /** "tty1", "" for a template or a plain unit. */
  readonly instance: string;
  readonly isTemplate: boolean;
  readonly isInstance: boolean;
}

export function parseUnitName(name: string): UnitName {
  const stem = name.replace(/\.service$/, '');
  const at = stem.indexOf('@');
  if (at < 0) return { full: name, prefix: stem, instance: '', isTemplate: false, isInstance: false };
  const instance = stem.slice(at + 1);
  return { full: name, prefix: stem.slice(0, at), instance, isTemplate: instance === '', isInstance: instance !== '' };
}

/** Instantiates "foo@.service" with an instance: "foo@bar.service". */
export function instantiate(template: string, instance: string): string {
  return template.replace(/@\.service$/, `@${instance}.service`);
}

/** systemd's unit_name_unescape(): "\x2d" → "-", and the path form "-" → "/". */
export function unescapeName(s: string, path = true): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '-' && path) out += '/';
    else if (c === '\\' && s[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
      out += String.fromCharCode(parseInt(s.slice(i + 2, i + 4), 16));
      i += 3;
    } else out += c;
  }
  return out;
}

/** systemd's unit_name_escape() for an instance string: "/" → "-", unsafe bytes → \xNN. */
export function escapeName(s: string): string {
  let out = '';
  for (const c of s) {
    if (c === '/') out += '-';
    else if (/[A-Za-z0-9:_.]/.test(c)) out += c;
    else out += [...Buffer.from(c)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  }
  return out.startsWith('.') ? `\\x2e${out.slice(1)}` : out;
}

const NAME_SPECIFIERS = new Set(['n', 'N', 'p', 'P', 'i', 'I', 'j', 'J', 'f']);

/** Resolves the name-dependent specifiers in one value; leaves every other "%x" as written. */
export function expandNameSpecifiers(value: string, unit: UnitName): string {
  if (unit.isTemplate || !value.includes('%')) return value;
  const lastDash = unit.prefix.lastIndexOf('-');
  const j = lastDash < 0 ? unit.prefix : unit.prefix.slice(lastDash + 1);
  const table: Record<string, string> = {
    n: unit.full,
    N: unit.full.replace(/\.service$/, ''),
    p: unit.prefix,
    P: unescapeName(unit.prefix, false),
    i: unit.instance,
    I: unescapeName(unit.instance),
    j,
    J: unescapeName(j, false),
    f: unit.instance ? `/${unescapeName(unit.instance).replace(/^\/+/, '')}` : `/${unescapeName(unit.prefix).replace(/^\/+/, '')}`,
  };
  return replaceSpecifiers(value, (s) => (NAME_SPECIFIERS.has(s) ? table[s]!.replaceAll('%', '%%') : undefined), '%%');
}

/**
 * Replaces each "%x" for which `lookup` gives a value; "%%" becomes `percent` ("%%" keeps it for
 * a later pass, "%" resolves it); any other "%x" stays as written.
 */
export function replaceSpecifiers(value: string, lookup: (specifier: string) => string | undefined, percent: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '%' && i + 1 < value.length) {
      const s = value[i + 1]!;
      if (s === '%') { out += percent; i++; continue; }
      const v = lookup(s);
      if (v !== undefined) { out += v; i++; continue; }
    }
    out += c;
  }
  return out;
}

/** Tells whether a value uses instance specifiers, which a template needs an instance for. */
export function usesInstanceSpecifier(value: string): boolean {
  return /(^|[^%])(%%)*%[iIfjJ]/.test(value);
}
