/* punch: uo-shim --punch, frees the part of an event log the agent has read and saved. */
#ifndef UO_SHIM_PUNCH_H
#define UO_SHIM_PUNCH_H

/* uo-shim --punch FILE END: see punch.c. Returns the exit status. */
int punch_main(int argc, char **argv);

#endif
