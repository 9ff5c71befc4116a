/*
 * worker.h: one worker process.
 *
 * The master forks a worker per slot after binding every listener.  Each
 * listener has one SO_REUSEPORT socket per slot, so the kernel spreads new
 * connections evenly over workers and a respawned worker takes over its
 * slot's socket with the connections queued on it.
 */
#ifndef SHUNT_WORKER_H
#define SHUNT_WORKER_H

#include <stddef.h>

#include "cfg-t.h"

/*
 * Run a worker until told to stop; returns the process exit status.
 * listen_fds[i] is a listening socket for cfg->listeners[i % nlisteners]
 * (non-blocking, close-on-exec): one row per listener set, usually one,
 * more when a reload left fewer workers than sockets.  The worker handles TERM (stop accepting,
 * finish in-flight requests within limits.shutdown_timeout, exit 0), INT
 * and QUIT (exit at once) itself; the master must have restored default
 * signal dispositions and an empty signal mask before calling it.
 */
int	worker_main(const struct shunt_config *cfg, const int *listen_fds,
	    size_t nfds, unsigned slot);

#endif /* SHUNT_WORKER_H */
