/* notify: the sd_notify socket the shim binds for the command (UO_SHIM_NOTIFY_SOCKET). */
#ifndef UO_SHIM_NOTIFY_H
#define UO_SHIM_NOTIFY_H

/* Binds a datagram socket (SO_PASSCRED) for path and sets NOTIFY_SOCKET=path for the command;
 * returns the socket, or -1 when it could not be bound (NOTIFY_SOCKET is set anyway, as before).
 * The socket is bound at UO_SHIM_ROOT + path when UO_SHIM_ROOT is set (the command, chroot()ed
 * there, finds it at path); with UO_SHIM_NAMESPACES it is bound after the shim entered them, so
 * path is the host's. Mode 0777, as systemd's /run/systemd/notify: any local process may
 * send; the agent judges every datagram by the sender's credentials, which notify_receive()
 * reports. */
int notify_open(const char *path);

/* Tells the receiver which unit this holder belongs to (its event log's path): datagrams from
 * processes that are neither root nor of this unit are not written (see notify.c). */
void notify_set_unit(const char *events_path);

/* Reads every pending datagram and emits, for each, with the sender's credentials
 * (SCM_CREDENTIALS; -1 when the kernel gave none):
 *   notify2 PID UID GID MESSAGE       MESSAGE escaped: '\\' and bytes < 0x20 or 0x7f as \xHH
 *                                     (so a newline is \x0a); the rest of the line
 *   notify-dropped PID UID GID REASON BYTES
 *                                     a datagram not passed on: REASON "oversized" (more than
 *                                     4096 bytes, systemd's NOTIFY_BUFFER_MAX), "nul" (an
 *                                     embedded NUL byte), "long" (its escaped form does not fit
 *                                     in one event line), "foreign" (not root and not a process
 *                                     of the unit: not written, BYTES summed over a second),
 *                                     "rate" (over the byte budget: 1 MiB burst, 32 KiB/s)
 * Shims before issue 12 emitted "notify PID MESSAGE" (newlines as \x1e, no uid); the agent
 * still reads those. fds passed along (SCM_RIGHTS) are closed. */
void notify_receive(int fd);

#endif
