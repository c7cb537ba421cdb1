// systemd.service(5) command lines ("Command lines"): prefixes -@:+!, quoting, C escapes,
// ";" separating commands, "\;" as a literal semicolon. Parsing is shared by the validator,
// the converter and the engine; variables are expanded at run time by expandCommand().

import { extractWord, WordSyntaxError, type WordWarning } from './words.ts';

export interface ExecFlags {
  /** "-": a failing exit status is recorded but otherwise ignored. */
  readonly ignoreFailure: boolean;
  /** "@": the second word is passed as argv[0]. */
  readonly argv0: boolean;
  /** ":": no environment variable substitution. */
  readonly noEnvExpand: boolean;
  /** "+": full privileges (User=, Group= and sandboxing not applied). */
  readonly fullPrivileges: boolean;
  /** "!": User=/Group= applied without the rest of the privilege restrictions. */
  readonly noSetuid: boolean;
  /** "!!": like "!" but only where ambient capabilities are unsupported. */
  readonly ambientFallback: boolean;
}

export interface ExecCommand {
  /** The executable: an absolute path or a bare name looked up in the fixed search path. */
  readonly path: string;
  /** argv as the process sees it (argv[0] included). Not yet variable-expanded. */
  readonly argv: readonly string[];
  readonly flags: ExecFlags;
}

export class CommandLineError extends WordSyntaxError {
  constructor(message: string, column: number) {
    super(message, column);
    this.name = 'CommandLineError';
  }
}

const PREFIX_CHARS = new Set(['-', '@', ':', '+', '!']);
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';

/** Parses one ExecStart=-style value into one or more commands (separated by lone ";"). */
export function parseCommandLine(value: string, warnings?: WordWarning[]): ExecCommand[] {
  // no argument can hold one (execve() ends it there): systemd never gets one (a unit file's
  // line ends at it, D-Bus strings have none, its C-unescape refuses \0)
  const nul = value.indexOf('\0');
  if (nul >= 0) throw new CommandLineError('a NUL byte in the command line', nul);
  const commands: ExecCommand[] = [];
  let i = 0;
  for (;;) {
    const first = extractWord(value, i, warnings);
    if (!first) break;
    i = first.end;
    if (value.slice(first.start, first.end) === ';') continue;
    let p = 0;
    let ignoreFailure = false, argv0 = false, noEnvExpand = false, fullPrivileges = false, noSetuid = false, ambientFallback = false;
    const raw = first.text;
    while (p < raw.length && PREFIX_CHARS.has(raw[p]!)) {
      const c = raw[p]!;
      const col = first.start + p;
      if (c === '-' && !ignoreFailure) ignoreFailure = true;
      else if (c === '@' && !argv0) argv0 = true;
      else if (c === ':' && !noEnvExpand) noEnvExpand = true;
      else if (c === '+' && !fullPrivileges && !noSetuid && !ambientFallback) fullPrivileges = true;
      else if (c === '!' && raw[p + 1] === '!' && !fullPrivileges && !noSetuid && !ambientFallback) { ambientFallback = true; p++; }
      else if (c === '!' && !fullPrivileges && !noSetuid && !ambientFallback) noSetuid = true;
      else throw new CommandLineError(`prefix "${c}" given twice or combined with a conflicting one ("+", "!" and "!!" exclude each other)`, col);
      p++;
    }
    const path = raw.slice(p);
    if (path === '') throw new CommandLineError('empty executable path in command line (write the program to run after the prefixes)', first.start);
    if (!path.startsWith('/') && path.includes('/')) {
      throw new CommandLineError(`"${path}" is neither an absolute path nor a plain executable name`, first.start + p);
    }
    if (/[\x00-\x1f]/.test(path)) throw new CommandLineError('control characters in the executable path', first.start + p);
    const args: string[] = [];
    for (;;) {
      while (i < value.length && isSpace(value[i])) i++;
      if (i >= value.length) break;
      if (value[i] === ';' && (i + 1 >= value.length || isSpace(value[i + 1]))) { i++; break; }
      if (value[i] === '\\' && value[i + 1] === ';' && (i + 2 >= value.length || isSpace(value[i + 2]))) {
        args.push(';');
        i += 2;
        continue;
      }
      const w = extractWord(value, i, warnings);
      if (!w) break;
      args.push(w.text);
      i = w.end;
    }
    let argv: string[];
    if (argv0) {
      if (args.length === 0) throw new CommandLineError('the "@" prefix needs a second word to pass as argv[0]', first.start);
      argv = args;
    } else {
      argv = [path, ...args];
    }
    commands.push({ path, argv, flags: { ignoreFailure, argv0, noEnvExpand, fullPrivileges, noSetuid, ambientFallback } });
  }
  return commands;
}

/** Tells the reason a command line is invalid, or undefined when it parses. */
export function commandLineProblem(value: string): { message: string; column: number } | undefined {
  try {
    const cmds = parseCommandLine(value);
    if (cmds.length === 0) return { message: 'empty command line', column: 0 };
    return undefined;
  } catch (e) {
    if (e instanceof WordSyntaxError) return { message: e.message, column: e.column };
    throw e;
  }
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Expands environment variables in argv as systemd's replace_env_argv() does at exec time:
 * a word that is exactly "$NAME" becomes zero or more words (the value split on whitespace,
 * with quotes honoured); "${NAME}" anywhere becomes the value as part of the word; "$$" is a
 * literal "$". Unset variables expand to nothing. argv[0] is never split.
 */
export function expandCommand(argv: readonly string[], env: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  argv.forEach((word, idx) => {
    if (idx > 0 && word.length > 1 && word[0] === '$' && VAR_NAME.test(word.slice(1))) {
      const value = env[word.slice(1)] ?? '';
      let i = 0;
      for (;;) {
        const w = extractWord(value, i);
        if (!w) break;
        out.push(w.text);
        i = w.end;
      }
      return;
    }
    out.push(expandInWord(word, env));
  });
  return out;
}

function expandInWord(word: string, env: Readonly<Record<string, string>>): string {
  let out = '';
  for (let i = 0; i < word.length; i++) {
    const c = word[i];
    if (c === '$' && word[i + 1] === '$') { out += '$'; i++; continue; }
    if (c === '$' && word[i + 1] === '{') {
      const close = word.indexOf('}', i + 2);
      const name = close < 0 ? '' : word.slice(i + 2, close);
      if (close >= 0 && VAR_NAME.test(name)) {
        out += env[name] ?? '';
        i = close;
        continue;
      }
    }
    out += c;
  }
  return out;
}
