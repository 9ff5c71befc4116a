/*
 * sig.c: the master's signal handlers and the name table for `shunt -s`.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "sig.h"

#define NO_REQUEST	((size_t)-1)	/* no request: ignored by the master */

static const struct {
	const char	*name;		/* for shunt -s; NULL: not sendable */
	int		 signo;
	size_t		 request;	/* offset in struct sig_events */
} sig_table[] = {
	{ "reload",	SIGHUP,		offsetof(struct sig_events, reload) },
	{ "stop",	SIGINT,		offsetof(struct sig_events, stop) },
	{ "quit",	SIGTERM,	offsetof(struct sig_events, quit) },
	{ "reopen",	SIGUSR1,	offsetof(struct sig_events, reopen) },
	{ NULL,		SIGCHLD,	offsetof(struct sig_events, child) },
	/* A closed stderr pipe must not kill the master mid-log line. */
	{ NULL,		SIGPIPE,	NO_REQUEST },
};

#define NSIGTAB	(sizeof(sig_table) / sizeof(sig_table[0]))

/* The handlers touch only pending[]; waitmask is set once at init. */
static struct {
	volatile sig_atomic_t	 pending[NSIGTAB];
	sigset_t		 waitmask;
} sig_ctx;

static void
sig_handler(int signo)
{
	size_t	 i;

	for (i = 0; i < NSIGTAB; i++)
		if (sig_table[i].signo == signo)
			sig_ctx.pending[i] = 1;
}

int
sig_by_name(const char *name)
{
	size_t	 i;

	for (i = 0; i < NSIGTAB; i++)
		if (sig_table[i].name != NULL &&
		    strcmp(sig_table[i].name, name) == 0)
			return sig_table[i].signo;
	return -1;
}

int
sig_master_init(void)
{
	struct sigaction	 sa;
	sigset_t		 caught, old;
	size_t			 i;

	sigemptyset(&caught);
	for (i = 0; i < NSIGTAB; i++)
		if (sig_table[i].request != NO_REQUEST)
			sigaddset(&caught, sig_table[i].signo);
	/* Block first: a signal arriving mid-setup waits for sig_wait(). */
	if (sigprocmask(SIG_BLOCK, &caught, &old) == -1)
		return -1;
	for (i = 0; i < NSIGTAB; i++) {
		memset(&sa, 0, sizeof(sa));
		if (sig_table[i].request == NO_REQUEST) {
			sigemptyset(&sa.sa_mask);
			sa.sa_handler = SIG_IGN;
		} else {
			sa.sa_mask = caught;
			sa.sa_handler = sig_handler;
			sa.sa_flags = SA_RESTART;
			if (sig_table[i].signo == SIGCHLD)
				sa.sa_flags |= SA_NOCLDSTOP;
		}
		if (sigaction(sig_table[i].signo, &sa, NULL) == -1)
			return -1;
	}
	/*
	 * Sleep with the inherited mask minus ours: a parent that started us
	 * with TERM blocked must not make us deaf to it.
	 */
	sig_ctx.waitmask = old;
	for (i = 0; i < NSIGTAB; i++)
		if (sig_table[i].request != NO_REQUEST)
			sigdelset(&sig_ctx.waitmask, sig_table[i].signo);
	return 0;
}

void
sig_child_reset(void)
{
	struct sigaction	 sa;
	sigset_t		 none;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (i = 0; i < NSIGTAB; i++)
		(void)sigaction(sig_table[i].signo, &sa, NULL);
	/* Only now: a signal delivered earlier would run the master's code. */
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

void
sig_wait(int64_t timeout_ms)
{
	struct timespec	 ts;

	/*
	 * pselect(2) without descriptors is sigsuspend(2) with a timeout: it
	 * installs the wait mask atomically, so a signal that arrived after
	 * sig_take() still wakes us at once.
	 */
	if (timeout_ms < 0) {
		(void)pselect(0, NULL, NULL, NULL, NULL, &sig_ctx.waitmask);
		return;
	}
	ts.tv_sec = (time_t)(timeout_ms / 1000);
	ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
	(void)pselect(0, NULL, NULL, NULL, &ts, &sig_ctx.waitmask);
}

void
sig_take(struct sig_events *ev)
{
	size_t	 i;

	memset(ev, 0, sizeof(*ev));
	for (i = 0; i < NSIGTAB; i++) {
		if (sig_table[i].request == NO_REQUEST || !sig_ctx.pending[i])
			continue;
		sig_ctx.pending[i] = 0;
		*(bool *)((char *)ev + sig_table[i].request) = true;
	}
}
