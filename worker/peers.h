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
 * The peer for r's next try (DESIGN.md §4.1): a recovery probe or a
 * suspect peer's trial connect this request won (r->probe, r->trial),
 * else the balancer's choice among the peers the store says are usable,
 * else, when none is, a suspect one.  Never `avoid' (NULL: no such
 * peer).  NULL when no peer may be used.
 */
struct bal_peer	*peers_select(struct req *r, const struct cfg_peer *avoid);

/*
 * Account for a finished try (t->outcome set); doing is the detail.  A
 * trial it held (t->trial) ends with it.
 */
void	peers_report(struct req *r, const struct req_try *t,
	    const char *doing);

/*
 * How long a connect to wp's peer may go unanswered before the peer is
 * suspect (health_suspect_after_ms() with this worker's connect times).
 */
uint64_t peers_suspect_after(const struct wpeer *wp);

/*
 * A connect to wp's peer, started at started_ms (loop time), completed:
 * learn how long connects take, and end the peer's suspicion and the
 * trial (`trial') in the store.  No write in steady state.
 */
void	peers_connected(struct worker *w, struct wpeer *wp,
	    uint64_t started_ms, bool trial);

/*
 * The connect of try t has seen no answer to its SYN past
 * peers_suspect_after(): mark the peer suspect in the store, for every
 * worker (one write per peer and suspicion).  Sets t->trial when this
 * connect became the peer's trial.
 */
void	peers_stalled(struct req *r, struct req_try *t);

/* Try t was given up as slow; its connect finishes as an orphan. */
void	peers_abandoned(struct req *r, const struct req_try *t);

/*
 * An orphaned connect to wp's peer ended: FAIL_NONE connected, a connect
 * failure kind (counted against the peer), or FAIL_CLIENT_ABORT given up
 * unfinished.  trial and probe say what it held, which ends with it.
 */
void	peers_orphan_done(struct worker *w, struct wpeer *wp,
	    enum failure_kind kind, const char *detail, bool trial, bool probe,
	    uint64_t started_ms);

/* Add the batched counters to the store (every second, and at exit). */
void	peers_flush(struct worker *w);

#endif /* SHUNT_PEERS_H */
