/*
 * peers.h: the worker's side of the shared health store: which peers may
 * take a try, and what each try's outcome does to its peer's health.
 */
#ifndef SHUNT_PEERS_H
#define SHUNT_PEERS_H

#include "health.h"
#include "worker-t.h"

/* Open the store the master published (after fork); 0, or -1 without. */
int	peers_open(struct worker *w);
void	peers_close(struct worker *w);

/* The health parameters of a pool's config. */
void	peers_params(const struct cfg_pool *pool, struct health_params *hp);

/*
 * The peer for r's next try (DESIGN.md §4.1): a recovery probe this
 * request won, else the balancer's choice among the peers the store says
 * are usable.  NULL when none is.
 */
struct bal_peer	*peers_select(struct req *r);

/* Account for a finished try (t->outcome set); doing is the detail. */
void	peers_report(struct req *r, const struct req_try *t,
	    const char *doing);

/* Add the batched counters to the store (every second, and at exit). */
void	peers_flush(struct worker *w);

#endif /* SHUNT_PEERS_H */
