// Reading uo-shim's event-log lines in tests (the format: src/runner/shim/events.c).

/** The holder's last line, "empty" (with its AT field since issue 19: "empty 123456"). */
export const isEmptyLine = (line: string): boolean => line === 'empty' || line.startsWith('empty ');
