/*
 * balance.h: choosing the peer of a pool for each try of a request.
 *
 * Each worker keeps one struct bal_pool per configured pool: the balancing
 * state that is private to the worker (smooth weighted round-robin weights,
 * requests in flight).  It points into the immutable config and never
 * changes it.  Whether a peer may be used at all (health, admin state) is
 * decided elsewhere, by the shared store; bal_select() asks through a
 * callback and only ranks and balances what it is told is eligible.
 *
 * Preference for one try (DESIGN.md §4.1), highest first:
 *
 *	rank	peer class
 *	0	eligible primary, not yet tried by this request
 *	1	eligible backup, not yet tried
 *	2	eligible primary, already tried ("retry the same upstream")
 *	3	eligible backup, already tried
 *
 * The best non-empty rank is the candidate set; the pool's method picks
 * within it:
 *
 *   round_robin	nginx's smooth weighted round robin: every candidate's
 *			current weight grows by its weight, the largest
 *			current wins (the first in config order on a tie) and
 *			loses the sum of the candidates' weights.  Peers
 *			outside the candidate set keep their current weight.
 *   least_conn		the fewest requests in flight from this worker per
 *			unit of weight; peers tied on that are chosen among by
 *			the smooth weighted round robin above, so equal peers
 *			alternate and weights still hold when the worker is
 *			idle (all at zero).
 *
 * Memory: bal_pool_init() allocates the peer array, bal_pool_free() frees
 * it; nothing else allocates.  bal_select() runs in O(npeers).
 *
 * Nothing here is thread-safe; the state is per worker process.
 */
#ifndef SHUNT_BALANCE_H
#define SHUNT_BALANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "cfg-t.h"

/* Runtime state of one peer in this worker. */
struct bal_peer {
	const struct cfg_peer	*cfg;
	int64_t			 current;	/* smooth WRR current weight */
	uint32_t		 active;	/* tries in flight from here */
	uint8_t			 rank;		/* bal_select()'s scratch */
};

struct bal_pool {
	const struct cfg_pool	*cfg;
	struct bal_peer		*peers;		/* cfg->npeers, same order */
};

/*
 * Whether a peer may take the next try.  Called by bal_select() exactly
 * once per peer of the pool per call, in config order, before the choice is
 * made: it must only answer, not claim (a recovery probe is claimed by the
 * caller for the peer bal_select() returns).
 */
typedef bool bal_eligible_fn(const struct cfg_peer *peer, void *arg);

/*
 * Set up the worker's state for cfg, which must outlive it: one bal_peer per
 * cfg->peers[i], all idle, all current weights zero.  Returns 0, or -1 with
 * errno set: EINVAL when the pool has no peer or a peer's weight is 0 or
 * above UINT32_MAX (the config allows 1..10000; the bound keeps least_conn's
 * cross products within 64 bits), ENOMEM.  On failure bp is left empty
 * (peers NULL), so bal_pool_free() on it is harmless.
 */
int	bal_pool_init(struct bal_pool *bp, const struct cfg_pool *cfg);

/* Free the peer array; bp may be NULL, already freed or failed to init. */
void	bal_pool_free(struct bal_pool *bp);

/*
 * Choose the peer for the next try of one request.
 *
 * tried: NULL when nothing was tried yet, else cfg->npeers flags indexed
 * by cfg_peer.index, true for each peer this request already tried.
 * eligible: NULL treats every peer as eligible; else see bal_eligible_fn,
 * arg is passed through.
 *
 * Returns a peer of bp (owned by bp), or NULL when no peer is eligible.
 * Updates the balancing state as if the peer were used; the caller then
 * calls bal_start() when the try actually begins.
 */
struct bal_peer *bal_select(struct bal_pool *bp, const bool *tried,
	    bal_eligible_fn *eligible, void *arg);

/*
 * A try to peer (a peer of bp) begins, or has ended whatever its outcome.
 * Every bal_start() must be paired with one bal_done(); they keep the count
 * of tries in flight that least_conn balances on.  bal_done() on an idle
 * peer leaves it at zero rather than wrapping.
 */
void	bal_start(struct bal_pool *bp, struct bal_peer *peer);
void	bal_done(struct bal_pool *bp, struct bal_peer *peer);

#endif /* SHUNT_BALANCE_H */
