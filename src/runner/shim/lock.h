/* lock: uo-shim --lock, the agent's one-agent-per-state-folder lock (issue 12, finding 4). */
#ifndef UO_SHIM_LOCK_H
#define UO_SHIM_LOCK_H

/* uo-shim --lock FILE AGENT_PID [--wait]: see lock.c. Returns the exit status. */
int lock_main(int argc, char **argv);

#endif
