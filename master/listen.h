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
 * The sockets of one slot, indexed like cfg->listeners: what the worker
 * in that slot gets as listen_fds.  Owned by the set.
 */
const int *listen_slot_fds(const struct listen_set *ls, unsigned slot);

/*
 * In a worker after fork: close every other slot's sockets, so that a
 * dead worker's queue is never held open by its siblings.
 */
void	listen_keep_slot(struct listen_set *ls, unsigned slot);

/* Close every socket still open and free the set; NULL is fine. */
void	listen_close(struct listen_set *ls);

#endif /* SHUNT_LISTEN_H */
