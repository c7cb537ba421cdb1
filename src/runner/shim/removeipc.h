/*
 * removeipc: RemoveIPC= (systemd 257's clean_ipc_by_uid()/clean_ipc_by_gid(), src/shared/clean-ipc.c),
 * a helper mode of uo-shim run by the agent when the last unit of a user stops:
 *
 *   uo-shim --remove-ipc UID GID     (GID -1: by the uid only)
 *
 * removes the System V shared memory segments, semaphore sets and message queues whose owner or
 * creator is UID or whose group or creating group is GID (/proc/sysvipc/{shm,sem,msg}), and the
 * POSIX shared memory objects (/dev/shm, recursively) and message queues (/dev/mqueue) owned by
 * UID or GID, in the IPC namespace and mount namespace it runs in. Never for root (status 2).
 * Prints one line per object removed; exit 0, or 1 when something could not be removed.
 */
#ifndef UO_SHIM_REMOVEIPC_H
#define UO_SHIM_REMOVEIPC_H

int removeipc_main(int argc, char **argv);

#endif
