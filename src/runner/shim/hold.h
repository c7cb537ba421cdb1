/* hold: the holder once the command runs — the reaping loop, in a fresh image of the shim. */
#ifndef UO_SHIM_HOLD_H
#define UO_SHIM_HOLD_H

/* What the reaping loop works with: descriptors (-1: none) and the notify socket's path. */
struct hold {
	int events, notify, out, err, log_dir, next;
	const char *notify_path;
};

/* Re-executes the shim (self_fd: its own executable, opened O_PATH at start) with the same
 * argv into hold mode, handing h over; returns only when that failed (the caller then holds
 * in this image: nothing is lost, it is only larger). */
void hold_exec(int self_fd, char **argv, const struct hold *h);

/* In a shim started by hold_exec(): whether this is hold mode (UO_SHIM_HOLD, and this process
 * a child subreaper, which an agent-started shim never is yet): 1, h filled from it; 0, not
 * hold mode; -1, hold mode with a malformed UO_SHIM_HOLD (the shim must end, not start over). */
int hold_adopt(struct hold *h);

/* The loop: reaps every child and descendant ("exit" lines), pumps the log pipes and notify
 * datagrams, until nothing is left ("empty"); returns the shim's exit status. */
int hold_loop(const struct hold *h);

#endif
