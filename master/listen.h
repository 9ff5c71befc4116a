/*
 * listen.h: the listening sockets, bound by the master before it forks.
 *
 * Every listener gets one SO_REUSEPORT socket per worker slot, so the
 * kernel spreads new connections over the workers and a respawned worker
 * takes over its slot's socket together with the connections queued on it.
 * The master owns every socket; a worker keeps only its own slot's.
 */
#ifndef SHUNT_LISTEN_H
#define SHUNT_LISTEN_H

#include <stddef.h>

#include "cfg-t.h"

struct listen_set;

/*
 * Bind nslots sockets for each of cfg->listeners: non-blocking,
 * close-on-exec, SO_REUSEADDR and SO_REUSEPORT, IPV6_V6ONLY for IPv6,
 * backlog 511.  An address something already listens on is refused, even
 * when that is another shunt whose SO_REUSEPORT sockets would let us join.
 * Returns a set freed with listen_close(), or NULL with
 * "cannot listen on ADDR: REASON" in err (nothing stays open).
 */
struct listen_set *listen_open(const struct shunt_config *cfg,
	    unsigned nslots, char *err, size_t errlen);

/*
 * Reload: the sockets for cfg, nslots per listener (or as many as old
 * had, if that is more).  A listener whose address old_cfg already had
 * keeps old's sockets (no connection queued on them is lost, none is
 * refused); new addresses are bound as by listen_open(), which is this
 * with no old set.  Until listen_commit() both sets hold the kept sockets
 * and listen_close() of the new set closes only the ones it bound, so a
 * reload that fails later leaves old as it was.  NULL with "cannot listen
 * on ADDR: REASON" in err.
 */
struct listen_set *listen_reload(const struct listen_set *old,
	    const struct shunt_config *old_cfg,
	    const struct shunt_config *cfg, unsigned nslots, char *err,
	    size_t errlen);

/*
 * The reload went through: the kept sockets move out of old, so that
 * closing old closes only what the new config dropped.
 */
void	listen_commit(struct listen_set *ls, struct listen_set *old);

/*
 * How many sockets each listener has: the workers count at start, and
 * after reloads the most workers any generation had.
 */
unsigned listen_nslots(const struct listen_set *ls);

/*
 * What the worker in slot `slot' of `nworkers' serves: the sockets of
 * every slot s with s % nworkers == slot, each row indexed like
 * cfg->listeners (so fds[k] belongs to listener k % nlisteners).  A
 * malloc'ed array with *nfds entries, or NULL.
 */
int	*listen_worker_fds(const struct listen_set *ls, unsigned slot,
	    unsigned nworkers, size_t *nfds);

/*
 * In a worker after fork: close every socket it does not serve, so that a
 * dead worker's queue is never held open by its siblings.
 */
void	listen_keep_slot(struct listen_set *ls, unsigned slot,
	    unsigned nworkers);

/* Close every socket still open and free the set; NULL is fine. */
void	listen_close(struct listen_set *ls);

#endif /* SHUNT_LISTEN_H */
