/*
 * peers.c: the worker's side of the shared health store.
 *
 * Selection reads every peer of the pool in one reused read transaction
 * (no lock, no allocation) and asks health.c which may be used.  A try's
 * outcome is written only when it changes something: a failure that
 * blames the peer, the first success after failures, a recovery probe.
 * Request and failure counts are added up per peer and flushed once a
 * second in one write, never a write per successful request.
 *
 * Without a store (it could not be opened) every peer is eligible and
 * each worker fails over on its own: degraded, but still serving.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "log.h"
#include "peers.h"
#include "store.h"
#include "upstream.h"

/* Counters reach the store at least this often (DESIGN.md §5). */
#define PEERS_FLUSH_MS	1000

static uint64_t
peers_wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* An operator's "disable" also empties the peer's keep-alive list. */
static void
peers_drop_disabled(struct wpeer *wp)
{
	if (wp->rec.admin != ADMIN_DISABLED || wp->idle == NULL)
		return;
	log_info("peer %s/%s is disabled: closing %zu idle connections",
	    wp->cfg->pool->name, wp->cfg->addr.text, wp->nidle);
	while (wp->idle != NULL)
		up_close(wp->idle);
}

/*
 * A worker with no traffic for a pool never selects in it: look at the
 * peers that still have idle connections once a second.
 */
static void
peers_check_idle(struct worker *w)
{
	struct wpeer	*wp;
	size_t		 i, j;

	if (store_read_begin(w->store) != 0)
		return;
	for (i = 0; i < w->npools; i++)
		for (j = 0; j < w->pools[i].cfg->npeers; j++) {
			wp = &w->pools[i].peers[j];
			if (wp->idle != NULL && store_peer_get(w->store,
			    w->pools[i].cfg->name, wp->cfg->addr.text,
			    &wp->rec) != 0)
				health_init(&wp->rec);
		}
	store_read_end(w->store);
	for (i = 0; i < w->npools; i++)
		for (j = 0; j < w->pools[i].cfg->npeers; j++)
			peers_drop_disabled(&w->pools[i].peers[j]);
}

static void
peers_on_flush(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct worker	*w = arg;

	peers_flush(w);
	peers_check_idle(w);
	(void)loop_timer_set(loop, t, PEERS_FLUSH_MS);
}

void
peers_params(const struct cfg_pool *pool, struct health_params *hp)
{
	hp->max_fails = (uint32_t)pool->health.max_fails;
	hp->fail_timeout_ms = pool->health.fail_timeout_ms;
	/* A live probe may take a whole try: never hand it out twice. */
	hp->probe_stale_ms = pool->timeouts.connect_ms +
	    pool->timeouts.send_ms + pool->timeouts.read_ms;
}

int
peers_open(struct worker *w)
{
	int	 rc;

	rc = store_open(&w->store, w->cfg->state_dir, 0);
	if (rc != 0) {
		log_warnx("health store %s: %s; peers' health is not shared "
		    "with other workers", w->cfg->state_dir,
		    store_strerror(rc));
		w->store = NULL;
		return -1;
	}
	loop_timer_init(&w->flush_timer, peers_on_flush, w);
	(void)loop_timer_set(w->loop, &w->flush_timer, PEERS_FLUSH_MS);
	return 0;
}

void
peers_close(struct worker *w)
{
	if (w->store == NULL)
		return;
	peers_flush(w);
	loop_timer_cancel(w->loop, &w->flush_timer);
	store_close(w->store);
	w->store = NULL;
}

static bool
peers_eligible(const struct cfg_peer *peer, void *arg)
{
	struct wpool	*p = arg;

	return p->peers[peer->index].pick == HEALTH_PICK_YES;
}

static void
peers_log_event(struct worker *w, const struct cfg_pool *pool,
    const char *addr, struct store_event *ev)
{
	char	 line[256];

	snprintf(ev->pool, sizeof(ev->pool), "%s", pool->name);
	snprintf(ev->addr, sizeof(ev->addr), "%s", addr);
	health_event_format(ev, (uint32_t)pool->health.max_fails, line,
	    sizeof(line));
	if (ev->to == HEALTH_DOWN)
		log_warnx("%s", line);
	else
		log_info("%s", line);
	(void)w;
}

struct bal_peer *
peers_select(struct req *r)
{
	struct worker		*w = r->c->w;
	struct wpool		*p = r->pool;
	const struct cfg_pool	*pool = p->cfg;
	struct store_event	 ev;
	struct wpeer		*wp;
	uint64_t		 now, version;
	size_t			 i;
	bool			 won;
	int			 rc;

	if (w->store == NULL)
		return bal_select(&p->bal, r->tried, NULL, NULL);
	now = peers_wall_ms();
	/*
	 * Health changes only by a store write: while no write happened the
	 * records read last time are current, and only the clock (a
	 * down_until passing) is looked at again.
	 */
	version = store_version(w->store);
	if (version == 0 || version != p->seen_version) {
		if ((rc = store_read_begin(w->store)) != 0) {
			log_warnx("health store read: %s", store_strerror(rc));
			return bal_select(&p->bal, r->tried, NULL, NULL);
		}
		for (i = 0; i < pool->npeers; i++) {
			wp = &p->peers[i];
			/* Not published (yet): assume up rather than fail. */
			if (store_peer_get(w->store, pool->name,
			    wp->cfg->addr.text, &wp->rec) != 0)
				health_init(&wp->rec);
		}
		store_read_end(w->store);
		p->seen_version = version;
		for (i = 0; i < pool->npeers; i++)
			peers_drop_disabled(&p->peers[i]);
	}
	for (i = 0; i < pool->npeers; i++)
		p->peers[i].pick = health_pick(&p->peers[i].rec, &p->params,
		    now);

	/*
	 * A down peer whose fail_timeout passed gets exactly one request
	 * across all workers: the first to win the claim in the store.
	 * Primaries first, as selection would prefer them.
	 */
	for (i = 0; i < pool->npeers && !r->probe; i++) {
		wp = &p->peers[i];
		if (wp->pick != HEALTH_PICK_PROBE || r->tried[i] ||
		    wp->cfg->backup)
			continue;
		won = false;
		if (store_peer_claim_probe(w->store, pool->name,
		    wp->cfg->addr.text, &p->params, (int32_t)getpid(), now, &ev,
		    &won) == 0 && won) {
			peers_log_event(w, pool, wp->cfg->addr.text, &ev);
			r->probe = true;
			return wp->bal;
		}
		wp->pick = HEALTH_PICK_NO;
	}
	return bal_select(&p->bal, r->tried, peers_eligible, p);
}

void
peers_report(struct req *r, const struct req_try *t, const char *doing)
{
	struct worker		*w = r->c->w;
	struct wpool		*p = r->pool;
	struct wpeer		*wp = &p->peers[t->peer->index];
	struct store_event	 ev;
	const char		*addr = t->peer->addr.text;
	bool			 changed = false, probe = r->probe;
	int			 rc = 0;

	r->probe = false;
	if (t->outcome == FAIL_CLIENT_ABORT || t->outcome == FAIL_STALE) {
		/* Nobody's fault; a probe it held goes to the next request. */
		if (probe && w->store != NULL)
			rc = store_peer_release_probe(w->store,
			    p->cfg->name, addr, t->outcome, (int32_t)getpid(),
			    peers_wall_ms(), &ev, &changed);
		if (changed)
			peers_log_event(w, p->cfg, addr, &ev);
		return;
	}
	wp->pending_requests++;
	if (failure_blames_peer(t->outcome))
		wp->pending_failures++;
	if (w->store == NULL)
		return;
	if (failure_blames_peer(t->outcome)) {
		rc = store_peer_failure(w->store, p->cfg->name, addr,
		    &p->params, t->outcome, doing, (int32_t)getpid(),
		    peers_wall_ms(), &ev, &changed);
	} else if (probe || health_success_needs_write(&wp->rec)) {
		rc = store_peer_success(w->store, p->cfg->name, addr,
		    (int32_t)getpid(), peers_wall_ms(), &ev, &changed);
		/* Written once: the next success of this worker needs none. */
		wp->rec.consecutive_failures = 0;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		log_warnx("health store write for %s/%s: %s", p->cfg->name,
		    addr, store_strerror(rc));
	if (changed)
		peers_log_event(w, p->cfg, addr, &ev);
}

void
peers_flush(struct worker *w)
{
	struct store_counter	*batch, *c;
	struct wpeer		*wp;
	size_t			 i, j, n = 0, total = 0;
	int			 rc;

	if (w->store == NULL)
		return;
	for (i = 0; i < w->npools; i++)
		total += w->pools[i].cfg->npeers;
	if (total == 0 || (batch = calloc(total, sizeof(*batch))) == NULL)
		return;
	for (i = 0; i < w->npools; i++)
		for (j = 0; j < w->pools[i].cfg->npeers; j++) {
			wp = &w->pools[i].peers[j];
			if (wp->pending_requests == 0 &&
			    wp->pending_failures == 0)
				continue;
			c = &batch[n++];
			c->pool = w->pools[i].cfg->name;
			c->addr = wp->cfg->addr.text;
			c->requests = wp->pending_requests;
			c->failures = wp->pending_failures;
		}
	if (n > 0 && (rc = store_add_counters(w->store, batch, n)) == 0) {
		for (i = 0; i < w->npools; i++)
			for (j = 0; j < w->pools[i].cfg->npeers; j++) {
				wp = &w->pools[i].peers[j];
				wp->pending_requests = 0;
				wp->pending_failures = 0;
			}
	} else if (n > 0) {
		log_warnx("health store counters: %s", store_strerror(rc));
	}
	free(batch);
}
