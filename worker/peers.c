/*
 * peers.c: the worker's side of the shared health store.
 *
 * Selection reads every peer of the pool in one reused read transaction
 * (no lock, no allocation) and asks health.c which may be used.  A try's
 * outcome is written only when it changes something: a failure that
 * blames the peer, the first success after failures, a recovery probe, a
 * connect that stalls or ends a suspicion.  Request and failure counts
 * are added up per peer and flushed once a second in one write, never a
 * write per successful request.
 *
 * Without a store (it could not be opened: state_dir removed or not
 * writable) each worker keeps its peers' health in its own memory, with
 * the same rules (health.c) applied to its own records: a peer it saw
 * fail max_fails times is down for it alone, and its probe is its own.
 * Degraded, since no worker learns from another, but still serving.
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

#include "clock.h"
#include "log.h"
#include "peers.h"
#include "store.h"
#include "upstream.h"

/* Counters reach the store at least this often (DESIGN.md §5). */
#define PEERS_FLUSH_MS	1000

/* An operator's "disable" also empties the peer's keep-alive list. */
static void
peers_drop_disabled(struct wpeer *wp)
{
	if (wp->rec.admin != ADMIN_DISABLED || LIST_EMPTY(&wp->idle))
		return;
	log_info("peer %s/%s is disabled: closing %zu idle connections",
	    wp->cfg->pool->name, wp->cfg->addr.text, wp->nidle);
	while (!LIST_EMPTY(&wp->idle))
		up_close(LIST_FIRST(&wp->idle));
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
			if (!LIST_EMPTY(&wp->idle) && store_peer_get(w->store,
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
	const struct cfg_timeouts	*t;
	uint64_t			 connect = pool->timeouts.connect_ms;
	size_t				 i;

	/* Peers may override the pool's timeouts: a trial takes the longest. */
	for (i = 0; i < pool->npeers; i++) {
		t = &pool->peers[i].timeouts;
		if (t->connect_ms > connect)
			connect = t->connect_ms;
	}
	hp->max_fails = (uint32_t)pool->health.max_fails;
	hp->fail_timeout_ms = pool->health.fail_timeout_ms;
	/* A live probe may take a whole try: never hand it out twice. */
	hp->probe_stale_ms = pool->timeouts.connect_ms +
	    pool->timeouts.send_ms + pool->timeouts.read_ms;
	/* A trial ends by its connect timer; twice that if the loop lags. */
	hp->trial_stale_ms = 2 * connect;
}

int
peers_open(struct worker *w)
{
	size_t	 i, j;
	int	 rc;

	rc = store_open(&w->store, w->cfg->state_dir, 0);
	if (rc != 0) {
		log_warnx("health store %s: %s; peers' health is not shared "
		    "with other workers: this worker keeps its own in memory",
		    w->cfg->state_dir, store_strerror(rc));
		w->store = NULL;
		for (i = 0; i < w->npools; i++)
			for (j = 0; j < w->pools[i].cfg->npeers; j++)
				health_init(&w->pools[i].peers[j].rec);
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

/* Usable now, or a peer not yet proven whose trial is free. */
static bool
peers_eligible(const struct cfg_peer *peer, void *arg)
{
	struct wpool	*p = arg;
	struct wpeer	*wp = &p->peers[peer->index];

	return wp->pick == HEALTH_PICK_YES || (wp->pick == HEALTH_PICK_TRIAL &&
	    health_is_unproven(&wp->rec));
}

static bool
peers_primary_eligible(struct wpool *p)
{
	size_t	 i;

	for (i = 0; i < p->cfg->npeers; i++)
		if (!p->peers[i].cfg->backup &&
		    peers_eligible(p->peers[i].cfg, p))
			return true;
	return false;
}

/* When nothing is eligible: a suspect peer still beats a 503. */
static bool
peers_last_resort(const struct cfg_peer *peer, void *arg)
{
	struct wpool	*p = arg;
	enum health_pick pick = p->peers[peer->index].pick;

	return pick == HEALTH_PICK_YES || pick == HEALTH_PICK_LAST ||
	    pick == HEALTH_PICK_TRIAL;
}

static struct wpool *
peers_pool_of(struct worker *w, const struct wpeer *wp)
{
	return &w->pools[wp->cfg->pool->index];
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
	if (ev->to == HEALTH_DOWN || (ev->flags & (STORE_EVENT_SUSPECT |
	    STORE_EVENT_WAS_SUSPECT)) == STORE_EVENT_SUSPECT)
		log_warnx("%s", line);
	else
		log_info("%s", line);
	(void)w;
}

/*
 * Health changes only by a store write: while no write happened the
 * records read last time are current, and only the clock (a down_until
 * passing) is looked at again.  A store that cannot be read leaves every
 * peer up rather than failing requests.
 */
static void
peers_refresh(struct worker *w, struct wpool *p)
{
	const struct cfg_pool	*pool = p->cfg;
	struct wpeer		*wp;
	uint64_t		 version;
	size_t			 i;
	int			 rc;

	version = store_version(w->store);
	if (version != 0 && version == p->seen_version)
		return;
	if ((rc = store_read_begin(w->store)) != 0) {
		log_warnx("health store read: %s", store_strerror(rc));
		for (i = 0; i < pool->npeers; i++)
			health_init(&p->peers[i].rec);
		p->seen_version = 0;
		return;
	}
	for (i = 0; i < pool->npeers; i++) {
		wp = &p->peers[i];
		/* Not published (yet): assume up rather than fail. */
		if (store_peer_get(w->store, pool->name, wp->cfg->addr.text,
		    &wp->rec) != 0)
			health_init(&wp->rec);
	}
	store_read_end(w->store);
	p->seen_version = version;
	for (i = 0; i < pool->npeers; i++)
		peers_drop_disabled(&p->peers[i]);
}

/*
 * The one way health changes from this worker: op applied to wp's record
 * in the store, in one write transaction (without a store, to the
 * worker's own copy, by the same rules), the record kept as it now
 * stands, the transition logged.  Returns 0, or the store's error.
 */
static int
peers_apply(struct worker *w, struct wpool *p, struct wpeer *wp,
    struct store_op *op)
{
	struct store_outcome	 out;
	const char		*addr = wp->cfg->addr.text;
	int			 rc = 0;

	op->hp = &p->params;
	op->pid = (int32_t)getpid();
	if (op->now_ms == 0)
		op->now_ms = clock_wall_ms();
	if (w->store == NULL) {
		memset(&out, 0, sizeof(out));
		out.changed = store_op_decide(&wp->rec, op, &out.ev);
	} else if ((rc = store_peer_apply(w->store, p->cfg->name, addr, op,
	    &out)) == 0) {
		wp->rec = out.rec;
	} else {
		if (rc != MDB_NOTFOUND)
			log_warnx("health store write for %s/%s: %s",
			    p->cfg->name, addr, store_strerror(rc));
		return rc;
	}
	if (out.changed)
		peers_log_event(w, p->cfg, addr, &out.ev);
	return 0;
}

/* Win wp's trial connect for r in the store (r->trial), or not. */
static bool
peers_claim_trial(struct req *r, struct wpeer *wp, uint64_t now)
{
	struct store_op	 op = { .op = STORE_OP_CLAIM_TRIAL, .now_ms = now };
	bool		 won = false;

	op.got = &won;
	if (peers_apply(r->c->w, r->pool, wp, &op) != 0 || !won)
		return false;
	r->trial = true;
	return true;
}

/*
 * No store: this worker's own records decide.  Nobody to share a trial
 * or a suspicion with, so those are plain picks; a due probe is claimed
 * in memory.
 */
static struct bal_peer *
peers_select_local(struct req *r, const struct cfg_peer *avoid)
{
	struct worker		*w = r->c->w;
	struct wpool		*p = r->pool;
	struct store_event	 ev;
	struct wpeer		*wp;
	uint64_t		 now = clock_wall_ms();
	size_t			 i;

	for (i = 0; i < p->cfg->npeers; i++) {
		wp = &p->peers[i];
		wp->pick = health_pick(&wp->rec, &p->params, now);
		if (wp->pick == HEALTH_PICK_TRIAL ||
		    wp->pick == HEALTH_PICK_LAST)
			wp->pick = HEALTH_PICK_YES;
	}
	if (avoid != NULL)
		p->peers[avoid->index].pick = HEALTH_PICK_NO;
	for (i = 0; i < p->cfg->npeers; i++) {
		wp = &p->peers[i];
		if (wp->pick != HEALTH_PICK_PROBE)
			continue;
		wp->pick = HEALTH_PICK_NO;
		memset(&ev, 0, sizeof(ev));
		if (r->probe || r->tried[i] || !health_claim_probe(&wp->rec,
		    &p->params, (int32_t)getpid(), now, &ev))
			continue;
		peers_log_event(w, p->cfg, wp->cfg->addr.text, &ev);
		r->probe = true;
		return wp->bal;
	}
	return bal_select(&p->bal, r->tried, peers_eligible, p);
}

struct bal_peer *
peers_select(struct req *r, const struct cfg_peer *avoid)
{
	struct worker		*w = r->c->w;
	struct wpool		*p = r->pool;
	const struct cfg_pool	*pool = p->cfg;
	struct store_event	 ev;
	struct wpeer		*wp;
	struct bal_peer		*bp;
	uint64_t		 now;
	size_t			 i;
	bool			 won;

	r->trial = false;
	if (w->store == NULL)
		return peers_select_local(r, avoid);
	now = clock_wall_ms();
	peers_refresh(w, p);
	for (i = 0; i < pool->npeers; i++)
		p->peers[i].pick = health_pick(&p->peers[i].rec, &p->params,
		    now);
	/* A hedge must go elsewhere than the connect it leaves behind. */
	if (avoid != NULL)
		p->peers[avoid->index].pick = HEALTH_PICK_NO;

	/*
	 * A down peer whose fail_timeout passed gets exactly one request
	 * across all workers: the first to win the claim in the store.  So
	 * does a suspect peer whose trial connect is free: without it the
	 * suspicion would never end, in a completed connect or in max_fails
	 * failures.  Primaries first, as selection would prefer them;
	 * backups only while no primary is eligible, which is also the only
	 * time they take traffic: else a backup once down stayed down.
	 * (Asked last: only a backup due a probe or trial gets that far.)
	 */
	for (i = 0; i < pool->npeers; i++) {
		wp = &p->peers[i];
		if ((wp->pick != HEALTH_PICK_PROBE &&
		    (wp->pick != HEALTH_PICK_TRIAL ||
		    health_is_unproven(&wp->rec))) || r->tried[i] ||
		    (wp->cfg->backup && peers_primary_eligible(p)))
			continue;
		won = false;
		if (wp->pick == HEALTH_PICK_PROBE) {
			if (!r->probe && store_peer_claim_probe(w->store,
			    pool->name, wp->cfg->addr.text, &p->params,
			    (int32_t)getpid(), now, &ev, &won) == 0 && won) {
				peers_log_event(w, pool, wp->cfg->addr.text,
				    &ev);
				r->probe = true;
				return wp->bal;
			}
			wp->pick = HEALTH_PICK_NO;
			continue;
		}
		if (peers_claim_trial(r, wp, now))
			return wp->bal;
		wp->pick = HEALTH_PICK_LAST;
	}
	/*
	 * A peer not yet proven is balanced like any other; only, when it
	 * is chosen, its first connect must be the one trial in flight, so
	 * that a peer dead from the start takes one request, not one per
	 * client connection, before anyone learns it.  A lost claim makes
	 * it a last resort and the choice is made again.
	 */
	while ((bp = bal_select(&p->bal, r->tried, peers_eligible, p)) !=
	    NULL) {
		wp = &p->peers[bp->cfg->index];
		if (wp->pick == HEALTH_PICK_YES || peers_claim_trial(r, wp, now))
			return bp;
		wp->pick = HEALTH_PICK_LAST;
	}
	/*
	 * Only suspect or unproven peers are left (or none): use one rather
	 * than fail, as its trial if that is still free.
	 */
	if ((bp = bal_select(&p->bal, r->tried, peers_last_resort, p)) ==
	    NULL)
		return NULL;
	wp = &p->peers[bp->cfg->index];
	if (wp->pick == HEALTH_PICK_TRIAL)
		(void)peers_claim_trial(r, wp, now);
	return bp;
}

uint64_t
peers_suspect_after(const struct wpeer *wp)
{
	return health_suspect_after_ms(wp->cfg->timeouts.connect_ms,
	    wp->connect_seen ? wp->connect_avg8 / 8 : 0);
}

/*
 * How long this worker's connects to the peer take, smoothed as TCP
 * smooths its RTT (gain 1/8), so a distant peer's threshold follows its
 * distance; connects that never complete teach nothing.
 */
static void
peers_learn(struct worker *w, struct wpeer *wp, uint64_t started_ms)
{
	uint64_t	 now = loop_now_ms(w->loop), ms;

	ms = now > started_ms ? now - started_ms : 0;
	if (!wp->connect_seen) {
		wp->connect_avg8 = ms * 8;
		wp->connect_seen = true;
	} else {
		wp->connect_avg8 = wp->connect_avg8 - wp->connect_avg8 / 8 + ms;
	}
}

void
peers_connected(struct worker *w, struct wpeer *wp, uint64_t started_ms,
    bool trial)
{
	struct store_op	 op = { .op = STORE_OP_CONNECTED, .trial = trial };

	peers_learn(w, wp, started_ms);
	/* Steady state: proven, not suspect, no trial: no write. */
	if (w->store == NULL || !health_connect_needs_write(&wp->rec, trial,
	    (int32_t)getpid()))
		return;
	(void)peers_apply(w, peers_pool_of(w, wp), wp, &op);
}

void
peers_stalled(struct req *r, struct req_try *t)
{
	struct worker	*w = r->c->w;
	struct wpeer	*wp = &r->pool->peers[t->peer->index];
	struct store_op	 op = { .op = STORE_OP_STALL };
	bool		 trial = false;

	/*
	 * Marked already, its trial under way: the store has nothing to
	 * learn from one more, and a burst of stalls stays one write.
	 */
	if (w->store == NULL || (health_is_suspect(&wp->rec) &&
	    wp->rec.trial_pid != 0))
		return;
	op.got = &trial;
	if (peers_apply(w, r->pool, wp, &op) == 0)
		t->trial = t->trial || trial;
}

void
peers_abandoned(struct req *r, const struct req_try *t)
{
	/* A try sent, as far as the counters go; its failure comes later. */
	r->pool->peers[t->peer->index].pending_requests++;
}

/*
 * A try, or an orphaned connect, ended (DESIGN.md §4 rules 2, 3, 6): the
 * one place where an outcome becomes health.  FAIL_NONE is a whole
 * answer.  A failure that blames the peer counts against it, and carries
 * the counters this worker has not flushed for the peer, so that status
 * shows a failure and its count at once.  Anything else (a client that
 * left, a stale pooled connection, a connect given up) is nobody's
 * fault: what the try held, trial or probe, goes back for the next
 * request.
 */
static void
peers_end(struct worker *w, struct wpool *p, struct wpeer *wp,
    enum failure_kind kind, const char *detail, bool trial, bool probe)
{
	struct store_op	 op;

	memset(&op, 0, sizeof(op));
	if (failure_blames_peer(kind)) {
		op.op = STORE_OP_FAILURE;
		op.kind = kind;
		op.detail = detail;
		op.trial = trial;
		op.add_requests = wp->pending_requests;
		op.add_failures = wp->pending_failures;
		if (peers_apply(w, p, wp, &op) == 0)
			wp->pending_requests = wp->pending_failures = 0;
		return;
	}
	if (kind == FAIL_NONE) {
		if (!probe && !health_success_needs_write(&wp->rec))
			return;
		op.op = STORE_OP_SUCCESS;
		(void)peers_apply(w, p, wp, &op);
		return;
	}
	if (trial) {
		op.op = STORE_OP_RELEASE_TRIAL;
		(void)peers_apply(w, p, wp, &op);
	}
	if (probe) {
		memset(&op, 0, sizeof(op));
		op.op = STORE_OP_RELEASE;
		op.kind = kind;
		(void)peers_apply(w, p, wp, &op);
	}
}

void
peers_orphan_done(struct worker *w, struct wpeer *wp, enum failure_kind kind,
    const char *detail, bool trial, bool probe, uint64_t started_ms)
{
	struct wpool	*p = peers_pool_of(w, wp);

	if (kind == FAIL_NONE) {
		peers_connected(w, wp, started_ms, trial);
		/*
		 * A probe proves itself by a whole answer, not by a connect:
		 * hand it back for the next request, which finds the peer
		 * answering SYNs now.
		 */
		peers_end(w, p, wp, FAIL_CONNECT_SLOW, detail, false, probe);
		return;
	}
	/* Given up unfinished (the worker stops): no verdict. */
	if (kind == FAIL_CLIENT_ABORT)
		kind = FAIL_CONNECT_SLOW;
	/* Its try was counted when its request moved on (peers_abandoned). */
	if (failure_blames_peer(kind))
		wp->pending_failures++;
	peers_end(w, p, wp, kind, detail, trial, probe);
}

void
peers_report(struct req *r, const struct req_try *t, const char *doing)
{
	struct wpeer	*wp = &r->pool->peers[t->peer->index];
	bool		 probe = r->probe;

	r->probe = false;
	if (t->outcome != FAIL_CLIENT_ABORT && t->outcome != FAIL_STALE) {
		wp->pending_requests++;
		if (failure_blames_peer(t->outcome))
			wp->pending_failures++;
	}
	peers_end(r->c->w, r->pool, wp, t->outcome, doing, t->trial, probe);
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
