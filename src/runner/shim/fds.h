/* fds: the descriptors a process of ours inherits and must not pass on (see fds.c). */
#ifndef UO_SHIM_FDS_H
#define UO_SHIM_FDS_H
/* Closes every descriptor from 3 up. 0: done; -1: not all could be (errno). */
int close_inherited_fds(void);
#endif
