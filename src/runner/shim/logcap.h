/* logcap: captures the command's stdout/stderr through pipes into a rotated log file. */
#ifndef UO_SHIM_LOGCAP_H
#define UO_SHIM_LOGCAP_H

/* Reads UO_SHIM_LOG, UO_SHIM_LOG_MAX, UO_SHIM_STDOUT and UO_SHIM_STDERR; creates a pipe for
 * each stream set to "journal" when UO_SHIM_LOG is set. Call before fork(). */
void logcap_init(void);

/* In a re-executed holder (hold.c): the read ends out and err (-1: none) and the log's folder
 * dir (AT_FDCWD: none) handed over; UO_SHIM_LOG and UO_SHIM_LOG_MAX as logcap_init(). */
void logcap_adopt(int out, int err, int dir);

/* The log's folder (O_PATH), or AT_FDCWD. */
int logcap_dir(void);

/* The write end of the pipe for stream 1 or 2 in the child, or -1 when there is none. */
int logcap_writer(int stream);

/* In the parent after fork(): closes the write ends. */
void logcap_close_writers(void);

/* The read end of stream 1 or 2 still open, or -1. */
int logcap_reader(int stream);

/* Reads what is available on stream 1 or 2 and writes complete lines (all of it when flush);
 * returns 0 once the stream reached its end. */
int logcap_pump(int stream, int flush);

/* Writes out everything left in both streams until their writers are gone. */
void logcap_drain(void);

#endif
