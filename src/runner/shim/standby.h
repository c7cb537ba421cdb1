/* standby: the next run of a unit that restarts at once, started ahead (issue 19): see standby.c. */
#ifndef UO_SHIM_STANDBY_H
#define UO_SHIM_STANDBY_H

/* The hand-over folder (UO_SHIM_NEXT) as an O_PATH descriptor, -1 when none. */
int next_open(const char *dir);

/* The holder's last act once empty: takes the standby armed for it (spawn `seq`), if any, and wakes it. */
void next_hand_over(int dir, const char *seq);

/* UO_SHIM_STANDBY=DIR, UO_SHIM_STANDBY_AGENT=PID, UO_SHIM_STANDBY_SEQ=N, UO_SHIM_STANDBY_AFTER=H:
 * opened before any namespace is entered. 0: not a standby; 1: one; -1: it cannot wait safely
 * (its folder, its FIFO, no pidfd of its agent). */
int standby_open(const char *dir, const char *agent, const char *seq, const char *after);

/* Waits until taken (0, "standby-go" written) or taken back (-1: the shim ends, nothing run). */
int standby_wait(void);

#endif
