/*
 * rlimit.c: the descriptor limit the workers inherit.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"
#include "rlimit.h"

/* Listeners, log files, the store, signalfd, epoll: a worker's fixed set. */
#define RLIMIT_SPARE	256

static uint64_t
rlimit_max_connections(const struct shunt_config *cfg)
{
	return cfg_limit_max(cfg, offsetof(struct cfg_limits,
	    max_connections));
}

static rlim_t
rlimit_clamp(uint64_t n)
{
	return n > (uint64_t)RLIM_INFINITY - 1 ? RLIM_INFINITY - 1 : (rlim_t)n;
}

void
rlimit_files(const struct shunt_config *cfg)
{
	struct rlimit	 rl;
	uint64_t	 conns = rlimit_max_connections(cfg), idle = 0;
	rlim_t		 want, need;
	size_t		 i;

	for (i = 0; i < cfg->npools; i++)
		idle += cfg->pools[i].keepalive.max_idle *
		    cfg->pools[i].npeers;
	/* A client and its upstream, plus the idle pools and our own. */
	want = rlimit_clamp(conns * 2 + idle + RLIMIT_SPARE);
	/* Below this, max_connections proxied requests cannot all run. */
	need = rlimit_clamp(conns * 2);
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
	if (rl.rlim_cur < need)
		log_warnx("open files limit %llu is below the %llu that "
		    "max_connections needs (a client and an upstream each): "
		    "workers may refuse connections early (raise the hard "
		    "limit, e.g. LimitNOFILE= or ulimit -Hn)",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)need);
}
