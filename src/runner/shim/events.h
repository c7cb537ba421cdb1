/* events: the shim's event log, one line per happening (format in events.c). */
#ifndef UO_SHIM_EVENTS_H
#define UO_SHIM_EVENTS_H

/* Opens (creates, appends to) the event log; returns -1 with errno set on failure. */
int events_open(const char *path);

/* Appends one line (the newline is added) with a single write(). */
void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
