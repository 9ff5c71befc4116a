/*
 * Unit tests for worker/peers.c against a real store (a temp LMDB the
 * master's publishing code fills): selection across health states (up,
 * down, probe, suspect, unproven), backups only when no primary is
 * eligible, the one recovery probe across requests, and what a try's
 * outcome writes to the store.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cfg.h"
#include "log.h"
#include "peers.h"
#include "privs.h"
#include "state.h"
#include "store.h"
#include "tap.h"
#include "tmpdir.h"

static char		 statedir[256];

/* One worker's view of a config published into statedir. */
struct fixture {
	struct shunt_config	*cfg;
	struct worker		 w;
	struct conn		 c;
	struct wpool		*p;
};

static const char *const peer_addr[] = {
	"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3",
};
#define P1	0
#define P2	1
#define BACKUP	2

static void
fixture_open(struct fixture *f, const char *fail_timeout)
{
	struct cfg_error	 err;
	struct privs		 privs = { .drop = false };
	char			 text[1024], msg[512];
	size_t			 i;

	memset(f, 0, sizeof(*f));
	tmpdir_make(statedir, sizeof(statedir), "test_peers");
	snprintf(text, sizeof(text), "{ \"state_dir\": \"%s\", \"workers\": 1,"
	    " \"listeners\": [ { \"listen\": \"127.0.0.1:1\", \"pool\": \"web\" }"
	    " ], \"pools\": { \"web\": { \"health\": { \"max_fails\": 1,"
	    " \"fail_timeout\": \"%s\" }, \"peers\": ["
	    " { \"address\": \"%s\" }, { \"address\": \"%s\" },"
	    " { \"address\": \"%s\", \"backup\": true } ] } } }", statedir,
	    fail_timeout, peer_addr[P1], peer_addr[P2], peer_addr[BACKUP]);
	f->cfg = cfg_load_buffer(text, strlen(text), "test.json", statedir,
	    &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->cfg);
	if (state_publish(f->cfg, &privs, 1, false, msg, sizeof(msg)) != 0) {
		printf("# state_publish: %s\n", msg);
		CU_FAIL_FATAL("state_publish");
	}
	f->w.cfg = f->cfg;
	f->w.loop = loop_new(16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->w.loop);
	f->w.npools = 1;
	f->w.pools = calloc(1, sizeof(*f->w.pools));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->w.pools);
	f->p = &f->w.pools[0];
	f->p->cfg = &f->cfg->pools[0];
	CU_ASSERT_EQUAL_FATAL(bal_pool_init(&f->p->bal, f->p->cfg), 0);
	peers_params(f->p->cfg, &f->p->params);
	f->p->peers = calloc(f->p->cfg->npeers, sizeof(*f->p->peers));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->p->peers);
	for (i = 0; i < f->p->cfg->npeers; i++) {
		f->p->peers[i].cfg = &f->p->cfg->peers[i];
		f->p->peers[i].bal = &f->p->bal.peers[i];
	}
	CU_ASSERT_EQUAL_FATAL(peers_open(&f->w), 0);
	f->c.w = &f->w;
}

static void
fixture_close(struct fixture *f)
{
	peers_close(&f->w);
	bal_pool_free(&f->p->bal);
	free(f->p->peers);
	free(f->w.pools);
	loop_free(f->w.loop);
	cfg_free(f->cfg);
	tmpdir_remove(statedir);
}

/* A request of the fixture's connection to its pool, nothing tried. */
static void
req_init(struct fixture *f, struct req *r)
{
	memset(r, 0, sizeof(*r));
	r->c = &f->c;
	r->pool = f->p;
	r->tried = r->tried_inline;
	r->tries = r->tries_inline;
	r->tries_cap = sizeof(r->tries_inline) / sizeof(r->tries_inline[0]);
}

/* Index of the peer selected for r, or -1. */
static int
select_index(struct req *r)
{
	struct bal_peer	*bp = peers_select(r, NULL);

	return bp == NULL ? -1 : (int)bp->cfg->index;
}

/* A whole try of r against peer i that ended in outcome. */
static void
try_outcome(struct fixture *f, struct req *r, int i, enum failure_kind kind)
{
	struct req_try	 t = { .peer = &f->p->cfg->peers[i], .outcome = kind,
	    .trial = r->trial };

	r->trial = false;
	peers_report(r, &t, "testing");
}

/* Every peer has completed a connect: none is on its first trial. */
static void
prove_all(struct fixture *f)
{
	size_t	 i;

	for (i = 0; i < f->p->cfg->npeers; i++)
		peers_connected(&f->w, &f->p->peers[i], 0, false);
}

static struct store_peer
record(struct fixture *f, int i)
{
	struct store_peer	 rec;

	memset(&rec, 0, sizeof(rec));
	CU_ASSERT_EQUAL(store_read_begin(f->w.store), 0);
	CU_ASSERT_EQUAL(store_peer_get(f->w.store, "web", peer_addr[i],
	    &rec), 0);
	store_read_end(f->w.store);
	return rec;
}

static void
test_all_up(void)
{
	struct fixture	 f;
	struct req	 r;
	int		 n, seen[3] = { 0, 0, 0 }, i;

	fixture_open(&f, "10s");
	prove_all(&f);
	for (n = 0; n < 10; n++) {
		req_init(&f, &r);
		if ((i = select_index(&r)) < 0)
			break;
		seen[i]++;
		CU_ASSERT_FALSE(r.probe);
		try_outcome(&f, &r, i, FAIL_NONE);
	}
	tap_result(seen[P1] == 5 && seen[P2] == 5 && seen[BACKUP] == 0,
	    "peers: all up, the primaries share the load, the backup gets "
	    "none (%d %d %d)", seen[P1], seen[P2], seen[BACKUP]);
	fixture_close(&f);
}

static void
test_failure_marks_down(void)
{
	struct fixture		 f;
	struct req		 r;
	struct store_peer	 rec;
	int			 n, i, other = 0;

	fixture_open(&f, "10s");
	prove_all(&f);
	req_init(&f, &r);
	try_outcome(&f, &r, P1, FAIL_CONNECT_REFUSED);
	rec = record(&f, P1);
	tap_result(rec.health == HEALTH_DOWN && rec.consecutive_failures == 1 &&
	    rec.last_kind == FAIL_CONNECT_REFUSED && rec.down_until_ms > 0,
	    "peers: a connect failure with max_fails 1 marks the peer down "
	    "in the store");
	CU_ASSERT_STRING_EQUAL(rec.last_failure_detail, "testing");
	CU_ASSERT_EQUAL(rec.last_failure_pid, (int32_t)getpid());
	for (n = 0; n < 6; n++) {
		req_init(&f, &r);
		i = select_index(&r);
		other += i == P2;
		CU_ASSERT_NOT_EQUAL(i, P1);
	}
	tap_result(other == 6, "peers: a down peer is never selected while "
	    "its fail_timeout runs");
	fixture_close(&f);
}

static void
test_backup_when_primaries_tried(void)
{
	struct fixture	 f;
	struct req	 r;

	fixture_open(&f, "10s");
	prove_all(&f);
	req_init(&f, &r);
	r.tried[P1] = r.tried[P2] = true;
	tap_result(select_index(&r) == BACKUP, "peers: the backup takes a "
	    "request that tried both primaries (rule 1)");
	req_init(&f, &r);
	try_outcome(&f, &r, P1, FAIL_CONNECT_REFUSED);
	try_outcome(&f, &r, P2, FAIL_RESET);
	req_init(&f, &r);
	tap_result(select_index(&r) == BACKUP, "peers: the backup takes "
	    "traffic while both primaries are down");
	req_init(&f, &r);
	r.tried[BACKUP] = true;
	tap_result(select_index(&r) == BACKUP, "peers: once the backup was "
	    "tried too, it is tried again (retry the same upstream)");
	try_outcome(&f, &r, BACKUP, FAIL_CONNECT_REFUSED);
	req_init(&f, &r);
	tap_result(select_index(&r) == -1, "peers: with every peer down "
	    "nothing is selected (503)");
	fixture_close(&f);
}

static void
test_success_resets_streak(void)
{
	struct fixture		 f;
	struct req		 r;
	struct store_peer	 rec;

	fixture_open(&f, "10s");
	prove_all(&f);
	req_init(&f, &r);
	try_outcome(&f, &r, P1, FAIL_READ_TIMEOUT);
	rec = record(&f, P1);
	CU_ASSERT_EQUAL(rec.consecutive_failures, 1);
	/* The worker kept the record it wrote: its next success is written. */
	req_init(&f, &r);
	try_outcome(&f, &r, P1, FAIL_NONE);
	rec = record(&f, P1);
	tap_result(rec.consecutive_failures == 0, "peers: a success after a "
	    "failure resets the streak in the store");
	/* Client aborts and stale connections are nobody's fault. */
	req_init(&f, &r);
	try_outcome(&f, &r, P2, FAIL_CLIENT_ABORT);
	try_outcome(&f, &r, P2, FAIL_STALE);
	rec = record(&f, P2);
	tap_result(rec.consecutive_failures == 0 && rec.health == HEALTH_UP,
	    "peers: a client abort and a stale connection blame no peer");
	fixture_close(&f);
}

static void
test_one_probe(void)
{
	struct fixture		 f;
	struct req		 r, r2;
	struct store_peer	 rec;
	int			 i, probes = 0, n;

	fixture_open(&f, "1ms");
	prove_all(&f);
	req_init(&f, &r);
	try_outcome(&f, &r, P1, FAIL_CONNECT_REFUSED);
	usleep(20 * 1000);	/* the 1 ms fail_timeout passes */
	/* Many requests after fail_timeout: one of them probes P1. */
	for (n = 0; n < 6; n++) {
		req_init(&f, &r2);
		i = select_index(&r2);
		if (i == P1) {
			probes++;
			CU_ASSERT_TRUE(r2.probe);
			r = r2;
		}
	}
	tap_result(probes == 1, "peers: after fail_timeout exactly one "
	    "request probes the down peer (%d)", probes);
	rec = record(&f, P1);
	CU_ASSERT_EQUAL(rec.probe_pid, (int32_t)getpid());
	/* The probe succeeds: up for everyone. */
	try_outcome(&f, &r, P1, FAIL_NONE);
	rec = record(&f, P1);
	tap_result(rec.health == HEALTH_UP && rec.probe_pid == 0,
	    "peers: a successful probe brings the peer up");
	fixture_close(&f);
}

static void
test_unproven_trial(void)
{
	struct fixture	 f;
	struct req	 a, b, c, d;
	int		 ia, ib, ic, id;

	fixture_open(&f, "10s");
	/* Nothing proven yet: each peer takes one connect at a time. */
	req_init(&f, &a);
	req_init(&f, &b);
	req_init(&f, &c);
	ia = select_index(&a);
	ib = select_index(&b);
	tap_result(ia >= 0 && ib >= 0 && ia != ib && a.trial && b.trial,
	    "peers: unproven peers each give one request its trial "
	    "connect (%d %d)", ia, ib);
	/* The primaries' trials are in flight: not eligible, so the backup
	 * takes the next request, on its own trial. */
	ic = select_index(&c);
	tap_result(ic == BACKUP && c.trial, "peers: with the primaries' "
	    "trials in flight the backup takes its trial (%d)", ic);
	req_init(&f, &d);
	id = select_index(&d);
	tap_result(id >= 0 && !d.trial, "peers: with every trial taken a "
	    "request still gets a peer, as a last resort (%d)", id);
	/* A completed connect proves the peer and ends its trial. */
	peers_connected(&f.w, &f.p->peers[ia], 0, true);
	req_init(&f, &c);
	f.p->bal.peers[ib].current = -1000000;	/* steer away from ib */
	tap_result(select_index(&c) == ia && !c.trial, "peers: a proven "
	    "peer is selected without a trial");
	fixture_close(&f);
}

static void
test_suspect_avoided(void)
{
	struct fixture		 f;
	struct req		 r;
	struct req_try		 t;
	struct store_peer	 rec;
	int			 n, p1 = 0;

	fixture_open(&f, "10s");
	prove_all(&f);
	/* A connect to P1 went unanswered past the suspect threshold. */
	req_init(&f, &r);
	memset(&t, 0, sizeof(t));
	t.peer = &f.p->cfg->peers[P1];
	peers_stalled(&r, &t);
	rec = record(&f, P1);
	tap_result(rec.health == HEALTH_UP && rec.suspect_since_ms > 0 &&
	    t.trial && rec.trial_pid == (int32_t)getpid(), "peers: a stalled "
	    "connect marks the peer suspect, its connect the trial");
	for (n = 0; n < 6; n++) {
		req_init(&f, &r);
		p1 += select_index(&r) == P1;
	}
	tap_result(p1 == 0, "peers: a suspect peer gets no request while "
	    "another is usable (%d)", p1);
	/* Its trial connect completes: the suspicion ends for everyone. */
	peers_connected(&f.w, &f.p->peers[P1], 0, true);
	rec = record(&f, P1);
	tap_result(rec.suspect_since_ms == 0 && rec.trial_pid == 0,
	    "peers: a completed connect ends the suspicion and the trial");
	fixture_close(&f);
}

/*
 * The write that records a failure carries the counters not yet flushed,
 * so status never shows a failure streak beside fewer failures.
 */
static void
test_counters_with_failure(void)
{
	struct fixture		 f;
	struct req		 r;
	struct store_peer	 rec;
	int			 n;

	fixture_open(&f, "10s");
	prove_all(&f);
	for (n = 0; n < 3; n++) {
		req_init(&f, &r);
		try_outcome(&f, &r, P2, FAIL_NONE);
	}
	rec = record(&f, P2);
	CU_ASSERT_EQUAL(rec.requests, 0);	/* batched: no write yet */
	req_init(&f, &r);
	try_outcome(&f, &r, P2, FAIL_RESET);
	rec = record(&f, P2);
	tap_result(rec.requests == 4 && rec.failures == 1 &&
	    rec.consecutive_failures == 1, "peers: a failure is written with "
	    "its counters: requests %llu, failures %llu, streak %u",
	    (unsigned long long)rec.requests,
	    (unsigned long long)rec.failures, rec.consecutive_failures);
	CU_ASSERT_EQUAL(f.p->peers[P2].pending_requests, 0);
	/* The worker keeps the record as written, not a patched copy. */
	CU_ASSERT_EQUAL(f.p->peers[P2].rec.consecutive_failures, 1);
	CU_ASSERT_EQUAL(f.p->peers[P2].rec.health, HEALTH_DOWN);
	fixture_close(&f);
}

int
main(void)
{
	CU_pSuite	 s;

	log_init("test_peers", CFG_LOG_ERROR);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("peers", NULL, NULL);
	CU_add_test(s, "all up", test_all_up);
	CU_add_test(s, "failure marks down", test_failure_marks_down);
	CU_add_test(s, "backup when primaries tried",
	    test_backup_when_primaries_tried);
	CU_add_test(s, "success resets the streak", test_success_resets_streak);
	CU_add_test(s, "one probe", test_one_probe);
	CU_add_test(s, "unproven trial", test_unproven_trial);
	CU_add_test(s, "suspect avoided", test_suspect_avoided);
	CU_add_test(s, "counters with the failure",
	    test_counters_with_failure);
	return tap_run_registry();
}
