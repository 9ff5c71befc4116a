/*
 * proc.h: the master's cycle: fork the workers, then only supervise them.
 *
 * The master never handles a request.  After forking one worker per slot
 * it sleeps until a signal, and each time it wakes it reaps the workers that
 * exited, respawns them in their slots (backing off when a slot's worker
 * keeps dying right after it starts), reopens the log or stops.
 */
#ifndef SHUNT_PROC_H
#define SHUNT_PROC_H

#include "cfg-t.h"
#include "listen.h"

/*
 * Fork cfg->workers workers, the one in slot s serving
 * listen_slot_fds(ls, s), and supervise them until a stop:
 *
 *   TERM  graceful: TERM to every worker, SIGKILL to those still running
 *         after the longest shutdown_timeout (global or a listener's)
 *         plus a second;
 *   INT   fast: INT to every worker, SIGKILL after a second;
 *   HUP   ignored for now (logged);
 *   USR1  reopen the error log, then USR1 to every worker.
 *
 * A worker that exits while the master is not stopping is respawned in
 * its slot; when it had lived less than a second the slot waits first,
 * 1s, 2s, 4s... up to 30s, until a worker outlives that second again.
 *
 * Expects sig_master_init() to have run and no LMDB environment or epoll
 * loop open.  Returns the master's exit status: 0 once every worker is
 * gone after a stop; 1 if the first workers could not be forked or some
 * survived SIGKILL.  Does not close ls.
 */
int	proc_run(const struct shunt_config *cfg, struct listen_set *ls);

#endif /* SHUNT_PROC_H */
