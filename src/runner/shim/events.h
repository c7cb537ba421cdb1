/* events: the shim's event log, one line per happening (format in events.c). */
#ifndef UO_SHIM_EVENTS_H
#define UO_SHIM_EVENTS_H

/* Opens a file of the shim's own for appending: created 0600, never through a symbolic link
 * (O_NOFOLLOW), refused (EPERM) unless a regular file owned by the shim's uid, made 0600
 * (fchmod) whatever the umask. Returns the descriptor (close-on-exec), or -1 with errno set. */
int open_private_append(const char *path);

/* The same, path relative to the folder dirfd (AT_FDCWD: as open_private_append()). */
int open_private_append_at(int dirfd, const char *path);

/* Opens (creates, appends to) the event log with open_private_append(); returns -1 with errno
 * set on failure. */
int events_open(const char *path);

/* The event log's descriptor, and the one to use (handed over through a re-exec: hold.c). */
int events_fd_get(void);
void events_use(int fd);

/* CLOCK_MONOTONIC in microseconds (the AT field of "exit" and "empty"); 0 if unreadable. */
unsigned long long monotonic_us(void);

/* Appends one line (the newline is added) with a single write(). */
void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
