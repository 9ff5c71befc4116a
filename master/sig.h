/*
 * sig.h: the master's signals (DESIGN.md §6) and `shunt -s`.
 *
 * (Not "signal.h": master/ is on the include path, and a header of that
 * name would shadow the system's <signal.h> for every file in the tree.)
 *
 * One table maps each name that `shunt -s` accepts to its signal and to
 * the request the master's handler records.  Handlers only set flags.  The
 * master keeps its signals blocked except while it sleeps in sig_wait(), so
 * a signal can never slip in between reading the flags and going to sleep.
 */
#ifndef SHUNT_SIG_H
#define SHUNT_SIG_H

#include <stdbool.h>
#include <stdint.h>

/* What the master was asked to do since it last looked. */
struct sig_events {
	bool	 reload;	/* HUP */
	bool	 stop;		/* INT: fast stop */
	bool	 quit;		/* TERM: graceful stop */
	bool	 reopen;	/* USR1: reopen log files */
	bool	 child;		/* CHLD: a worker exited */
};

/*
 * The signal `shunt -s NAME` sends: "reload" HUP, "stop" INT, "quit" TERM,
 * "reopen" USR1; -1 for any other name.
 */
int	sig_by_name(const char *name);

/*
 * In the master, before it forks: block the caught signals until
 * sig_wait(), install the flag-setting handlers, ignore SIGPIPE.
 * 0, or -1 with errno from sigprocmask(2) or sigaction(2).
 */
int	sig_master_init(void);

/*
 * In a freshly forked child: the default disposition for every signal the
 * master catches or ignores, then an empty signal mask, as worker_main()
 * expects.  Nothing here can fail in a way the child could act on.
 */
void	sig_child_reset(void);

/*
 * Sleep until a caught signal has been handled or timeout_ms have passed
 * (-1: no timeout).  Returns at once if a signal is already pending.
 */
void	sig_wait(int64_t timeout_ms);

/*
 * Fill *ev with the requests recorded since the last call and clear them.
 * Call it while the signals are blocked, i.e. outside sig_wait().
 */
void	sig_take(struct sig_events *ev);

#endif /* SHUNT_SIG_H */
