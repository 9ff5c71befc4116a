/*
 * rlimit.c: the descriptor limit the workers inherit.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "rlimit.h"

/* Listeners, log files, the store, signalfd, epoll: a worker's fixed set. */
#define RLIMIT_SPARE	256

static rlim_t
rlimit_wanted(const struct shunt_config *cfg)
{
	uint64_t	 conns = cfg->limits.max_connections, idle = 0, n;
	size_t		 i;

	for (i = 0; i < cfg->nlisteners; i++)
		if (cfg->listeners[i].limits.max_connections > conns)
			conns = cfg->listeners[i].limits.max_connections;
	for (i = 0; i < cfg->npools; i++)
		idle += cfg->pools[i].keepalive.max_idle *
		    cfg->pools[i].npeers;
	/* A client and its upstream, plus the idle upstream pools. */
	n = conns * 2 + idle + RLIMIT_SPARE;
	return n > (uint64_t)RLIM_INFINITY - 1 ? RLIM_INFINITY - 1 : (rlim_t)n;
}

void
rlimit_files(const struct shunt_config *cfg)
{
	struct rlimit	 rl;
	rlim_t		 want = rlimit_wanted(cfg);

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit(RLIMIT_NOFILE)");
		return;
	}
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want && geteuid() == 0) {
		struct rlimit	 raised = { want, want };

		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit(RLIMIT_NOFILE, %llu)",
		    (unsigned long long)rl.rlim_cur);
	if (rl.rlim_cur < want)
		log_warnx("open files limit %llu is below the %llu that "
		    "max_connections needs: workers may refuse connections "
		    "early (raise the hard limit, e.g. LimitNOFILE= or "
		    "ulimit -Hn)", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)want);
}
