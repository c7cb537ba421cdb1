/* forksrv: uo-shim --fork-server, the agent's fork server (issue 19): shims forked on request. */
#ifndef UO_SHIM_FORKSRV_H
#define UO_SHIM_FORKSRV_H

/* uo-shim --fork-server DIR LOCKFILE AGENT_PID TOKEN: see forksrv.c. Returns the exit status. */
int forksrv_main(int argc, char **argv);

#endif
