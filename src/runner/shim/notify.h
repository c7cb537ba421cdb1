/* notify: the sd_notify socket the shim binds for the command (UO_SHIM_NOTIFY_SOCKET). */
#ifndef UO_SHIM_NOTIFY_H
#define UO_SHIM_NOTIFY_H

/* Binds a datagram socket at path (mode 0777, SO_PASSCRED) and sets NOTIFY_SOCKET=path for
 * the command; returns the socket, or -1 when it could not be bound (NOTIFY_SOCKET is set
 * anyway, as before). */
int notify_open(const char *path);

/* Reads every pending datagram and emits "notify PID MESSAGE" for each; fds passed along
 * (SCM_RIGHTS) are closed. */
void notify_receive(int fd);

#endif
