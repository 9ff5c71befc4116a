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

#include <limits.h>
#include <stdbool.h>

#include "cfg-t.h"
#include "listen.h"
#include "privs.h"

/* The master's pid file, which a reload may move. */
struct proc_pidfile {
	char	 path[PATH_MAX];	/* "": none */
	bool	 follow_cfg;		/* pid_file, not -p: a reload moves it */
};

/*
 * Fork cfg->workers workers, the one in slot s serving
 * listen_slot_fds(ls, s), and supervise them until a stop:
 *
 *   TERM  graceful: TERM to every worker, SIGKILL to those still running
 *         after the longest shutdown_timeout (global or a listener's)
 *         plus a second;
 *   INT   fast: INT to every worker, SIGKILL after a second;
 *   HUP   reload: read cfg->file again; if it is valid and its listeners
 *         can be bound and the store published, fork a new generation
 *         of workers on the new config, then TERM the old ones, which
 *         finish their requests (SIGKILL after their shutdown_timeout
 *         plus a second).  Listeners whose address did not change keep
 *         their sockets.  Anything wrong: logged, and the old config
 *         keeps serving;
 *   USR1  reopen the error log, then USR1 to every worker.
 *
 * A worker that exits while the master is not stopping is respawned in
 * its slot; when it had lived less than a second the slot waits first,
 * 1s, 2s, 4s... up to 30s, until a worker outlives that second again.
 *
 * *lock is the master's lock on cfg->state_dir (state_lock()): workers
 * close their copy, and a reload to another state_dir, or into one
 * removed and created again, takes the new one's lock first and then
 * releases the old (on return *lock is the one held).
 *
 * Workers drop to privs right after fork.  Expects sig_master_init() to
 * have run and no LMDB environment or epoll loop open.  Returns the
 * master's exit status: 0 once every worker is gone after a stop; 1 if
 * the first workers could not be forked or some survived SIGKILL.  A
 * reload replaces *cfg and *ls (the old ones are freed); the caller frees
 * what they point to on return.  A reload that changes pid_file (when pid
 * came from it) writes the new file and removes the old one, so that
 * `shunt -s` and init scripts, which read the config, still find us.
 */
int	proc_run(struct shunt_config **cfg, struct listen_set **ls,
	    const struct privs *privs, struct proc_pidfile *pid, int *lock);

#endif /* SHUNT_PROC_H */
