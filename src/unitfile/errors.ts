// Diagnostics of the unit-file tools: every one names file:line:column and, for errors, a hint.

export interface Location {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

export interface Diagnostic extends Location {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly directive?: string;
  readonly hint?: string;
}

export class UnitFileError extends Error {
  readonly diagnostics: readonly Diagnostic[];
  constructor(diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'UnitFileError';
    this.diagnostics = diagnostics;
  }
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file}:${d.line}:${d.column}`;
  const what = d.directive ? `${d.directive}: ${d.message}` : d.message;
  return `${where}: ${d.severity}: ${what}${d.hint ? `\n  hint: ${d.hint}` : ''}`;
}
