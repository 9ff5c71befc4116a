/*
 * balance.c: per-worker peer selection; see balance.h for the rules.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdlib.h>

#include "balance.h"

/* Preference classes, best first; see the table in balance.h. */
#define BAL_RANK_TRIED		2
#define BAL_RANK_BACKUP		1
#define BAL_RANK_NONE		UINT8_MAX	/* not a candidate */

static struct bal_peer	*bal_wrr(struct bal_pool *, uint8_t);
static struct bal_peer	*bal_least_conn(struct bal_pool *, uint8_t);

int
bal_pool_init(struct bal_pool *bp, const struct cfg_pool *cfg)
{
	size_t	 i;

	bp->cfg = cfg;
	bp->peers = NULL;
	if (cfg->npeers == 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < cfg->npeers; i++) {
		if (cfg->peers[i].weight == 0 ||
		    cfg->peers[i].weight > UINT32_MAX) {
			errno = EINVAL;
			return -1;
		}
	}
	if ((bp->peers = calloc(cfg->npeers, sizeof(*bp->peers))) == NULL)
		return -1;
	for (i = 0; i < cfg->npeers; i++) {
		bp->peers[i].cfg = &cfg->peers[i];
		bp->peers[i].rank = BAL_RANK_NONE;
	}
	return 0;
}

void
bal_pool_free(struct bal_pool *bp)
{
	if (bp == NULL)
		return;
	free(bp->peers);
	bp->peers = NULL;
}

struct bal_peer *
bal_select(struct bal_pool *bp, const bool *tried, bal_eligible_fn *eligible,
    void *arg)
{
	struct bal_peer	*p;
	size_t		 i;
	uint8_t		 best = BAL_RANK_NONE;

	/*
	 * Rank every peer in one pass and remember it, so the callback (a
	 * store lookup) runs once per peer and the balancing pass below sees
	 * the same answers.
	 */
	for (i = 0; i < bp->cfg->npeers; i++) {
		p = &bp->peers[i];
		if (eligible != NULL && !eligible(p->cfg, arg)) {
			p->rank = BAL_RANK_NONE;
			continue;
		}
		p->rank = 0;
		if (tried != NULL && tried[p->cfg->index])
			p->rank += BAL_RANK_TRIED;
		if (p->cfg->backup)
			p->rank += BAL_RANK_BACKUP;
		if (p->rank < best)
			best = p->rank;
	}
	if (best == BAL_RANK_NONE)
		return NULL;

	switch (bp->cfg->balance) {
	case CFG_BALANCE_LEAST_CONN:
		return bal_least_conn(bp, best);
	case CFG_BALANCE_ROUND_ROBIN:
	default:
		return bal_wrr(bp, best);
	}
}

/* Smooth weighted round robin among the peers of the given rank. */
static struct bal_peer *
bal_wrr(struct bal_pool *bp, uint8_t rank)
{
	struct bal_peer	*p, *best = NULL;
	int64_t		 total = 0;
	size_t		 i;

	for (i = 0; i < bp->cfg->npeers; i++) {
		p = &bp->peers[i];
		if (p->rank != rank)
			continue;
		p->current += (int64_t)p->cfg->weight;
		total += (int64_t)p->cfg->weight;
		/* Strictly greater: config order breaks ties, as in nginx. */
		if (best == NULL || p->current > best->current)
			best = p;
	}
	best->current -= total;
	return best;
}

/*
 * Fewest in flight per unit of weight: a/wa < b/wb compared as
 * a*wb < b*wa, exact and within 64 bits since active and weight are both
 * below 2^32.  The tied peers then go through the weighted round robin, so
 * they alternate in proportion to their weights instead of the first in
 * config order taking every tie (which, in an idle worker, is every try).
 */
static struct bal_peer *
bal_least_conn(struct bal_pool *bp, uint8_t rank)
{
	struct bal_peer	*p, *least = NULL;
	uint64_t	 lhs, rhs;
	size_t		 i;

	for (i = 0; i < bp->cfg->npeers; i++) {
		p = &bp->peers[i];
		if (p->rank != rank)
			continue;
		if (least == NULL ||
		    (uint64_t)p->active * least->cfg->weight <
		    (uint64_t)least->active * p->cfg->weight)
			least = p;
	}
	for (i = 0; i < bp->cfg->npeers; i++) {
		p = &bp->peers[i];
		if (p->rank != rank)
			continue;
		lhs = (uint64_t)p->active * least->cfg->weight;
		rhs = (uint64_t)least->active * p->cfg->weight;
		if (lhs != rhs)
			p->rank = BAL_RANK_NONE;
	}
	return bal_wrr(bp, rank);
}

void
bal_start(struct bal_pool *bp, struct bal_peer *peer)
{
	(void)bp;
	peer->active++;
}

void
bal_done(struct bal_pool *bp, struct bal_peer *peer)
{
	(void)bp;
	/* An unpaired done is a caller bug; do not let it wrap to 2^32. */
	if (peer->active > 0)
		peer->active--;
}
