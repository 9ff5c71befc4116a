/*
 * test_balance.c: unit tests for worker/balance.c.
 *
 * Pools are built by hand from weights and backup flags; peers are named
 * 'a', 'b', 'c'... in config order so that a run of selections reads as a
 * string and sequences can be compared exactly.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "balance.h"
#include "tap.h"

#define MAXPEERS	8

struct fixture {
	struct cfg_pool	 cfg;
	struct cfg_peer	 peers[MAXPEERS];
	struct bal_pool	 bp;
};

/* Peer i is a backup when backups[i] is 'b'; backups may be NULL. */
static int
fixture_init(struct fixture *f, enum cfg_balance method,
    const uint64_t *weights, size_t n, const char *backups)
{
	size_t	 i;

	memset(f, 0, sizeof(*f));
	f->cfg.name = "test";
	f->cfg.balance = method;
	f->cfg.peers = f->peers;
	f->cfg.npeers = n;
	for (i = 0; i < n; i++) {
		f->peers[i].weight = weights[i];
		f->peers[i].backup = backups != NULL && backups[i] == 'b';
		f->peers[i].index = i;
		f->peers[i].pool = &f->cfg;
	}
	return bal_pool_init(&f->bp, &f->cfg);
}

static char
name(const struct fixture *f, const struct bal_peer *p)
{
	if (p == NULL)
		return '-';
	return (char)('a' + (p->cfg - f->peers));
}

/* n selections without starting any try; the names into out (n + 1). */
static void
run(struct fixture *f, size_t n, const bool *tried, bal_eligible_fn *elig,
    void *arg, char *out)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		out[i] = name(f, bal_select(&f->bp, tried, elig, arg));
	out[n] = '\0';
}

/* Eligible: the peers whose letter is in the string arg. */
static bool
elig_set(const struct cfg_peer *peer, void *arg)
{
	return strchr(arg, (int)('a' + peer->index)) != NULL;
}

static bool
elig_none(const struct cfg_peer *peer, void *arg)
{
	(void)peer;
	(void)arg;
	return false;
}

struct elig_count {
	int	 calls[MAXPEERS];
};

static bool
elig_count(const struct cfg_peer *peer, void *arg)
{
	struct elig_count	*c = arg;

	c->calls[peer->index]++;
	return true;
}

static void
test_init_free(void)
{
	static const uint64_t	 w[] = { 1, 2, 3 };
	static const uint64_t	 w0[] = { 1, 0 };
	struct fixture		 f;
	size_t			 i;

	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_ROUND_ROBIN, w, 3,
	    NULL), 0);
	CU_ASSERT_PTR_EQUAL(f.bp.cfg, &f.cfg);
	for (i = 0; i < 3; i++) {
		CU_ASSERT_PTR_EQUAL(f.bp.peers[i].cfg, &f.peers[i]);
		CU_ASSERT_EQUAL(f.bp.peers[i].current, 0);
		CU_ASSERT_EQUAL(f.bp.peers[i].active, 0);
	}
	bal_pool_free(&f.bp);
	CU_ASSERT_PTR_NULL(f.bp.peers);
	bal_pool_free(&f.bp);
	bal_pool_free(NULL);

	errno = 0;
	CU_ASSERT_EQUAL(fixture_init(&f, CFG_BALANCE_ROUND_ROBIN, w0, 2, NULL),
	    -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(f.bp.peers);
	bal_pool_free(&f.bp);

	errno = 0;
	CU_ASSERT_EQUAL(fixture_init(&f, CFG_BALANCE_ROUND_ROBIN, w, 0, NULL),
	    -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	bal_pool_free(&f.bp);
}

/* nginx's documented order for weights 5, 1, 1. */
static void
test_wrr_511(void)
{
	static const uint64_t	 w[] = { 5, 1, 1 };
	struct fixture		 f;
	char			 seq[32];
	size_t			 i;

	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_ROUND_ROBIN, w, 3,
	    NULL), 0);
	run(&f, 7, NULL, NULL, NULL, seq);
	CU_ASSERT_STRING_EQUAL(seq, "aabacaa");
	/* A full cycle brings every current weight back to zero... */
	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(f.bp.peers[i].current, 0);
	/* ...so it repeats. */
	run(&f, 14, NULL, NULL, NULL, seq);
	CU_ASSERT_STRING_EQUAL(seq, "aabacaaaabacaa");
	bal_pool_free(&f.bp);
}

static void
test_wrr_equal(void)
{
	static const uint64_t	 w[] = { 1, 1, 1 };
	static const uint64_t	 w4[] = { 4, 4 };
	struct fixture		 f;
	char			 seq[32];

	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_ROUND_ROBIN, w, 3,
	    NULL), 0);
	run(&f, 9, NULL, NULL, NULL, seq);
	CU_ASSERT_STRING_EQUAL(seq, "abcabcabc");
	bal_pool_free(&f.bp);

	/* Equal weights above one still alternate, not a run of four. */
	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_ROUND_ROBIN, w4, 2,
	    NULL), 0);
	run(&f, 6, NULL, NULL, NULL, seq);
	CU_ASSERT_STRING_EQUAL(seq, "ababab");
	bal_pool_free(&f.bp);
}

static void
test_wrr_distribution(void)
{
	static const uint64_t	 w[] = { 3, 2, 1 };
	struct fixture		 f;
	struct bal_peer		*p;
	int			 count[3] = { 0, 0, 0 };
	int			 i;

	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_ROUND_ROBIN, w, 3,
	    NULL), 0);
	for (i = 0; i < 10000; i++) {
		p = bal_select(&f.bp, NULL, NULL, NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		count[p->cfg->index]++;
	}
	CU_ASSERT(abs(count[0] - 5000) <= 1);
	CU_ASSERT(abs(count[1] - 3333) <= 1);
	CU_ASSERT(abs(count[2] - 1667) <= 1);
	CU_ASSERT_EQUAL(count[0] + count[1] + count[2], 10000);
	bal_pool_free(&f.bp);
}

static void
test_tried_skipped(void)
{
	static const uint64_t	 w[] = { 1, 1, 1, 1 };
	struct fixture		 f;
	bool			 tried[4] = { true, false, false, false };
	char			 seq[32];

	/* a b c primaries, d a backup. */
	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_ROUND_ROBIN, w, 4,
	    "pppb"), 0);
	run(&f, 6, tried, NULL, NULL, seq);
	CU_ASSERT_STRING_EQUAL(seq, "bcbcbc");
	tried[1] = true;
	run(&f, 3, tried, NULL, NULL, seq);
	CU_ASSERT_STRING_EQUAL(seq, "ccc");
	/* An untried backup before an already tried primary. */
	tried[2] = true;
	run(&f, 3, tried, NULL, NULL, seq);
	CU_ASSERT_STRING_EQUAL(seq, "ddd");
	/* The untried primary is ineligible: the backup, not a retry. */
	tried[2] = false;
	run(&f, 2, tried, elig_set, "abd", seq);
	CU_ASSERT_STRING_EQUAL(seq, "dd");
	bal_pool_free(&f.bp);
}

static void
test_backups(void)
{
	static const uint64_t	 w[] = { 1, 1, 2, 1 };
	struct fixture		 f;
	char			 seq[32];
	int			 i, count[4] = { 0, 0, 0, 0 };

	/* a b primaries, c (weight 2) d backups. */
	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_ROUND_ROBIN, w, 4,
	    "ppbb"), 0);
	/* Any eligible primary keeps the backups out. */
	run(&f, 4, NULL, NULL, NULL, seq);
	CU_ASSERT_STRING_EQUAL(seq, "abab");
	run(&f, 4, NULL, elig_set, "bcd", seq);
	CU_ASSERT_STRING_EQUAL(seq, "bbbb");
	/* No eligible primary: the backups, by WRR among themselves. */
	run(&f, 6, NULL, elig_set, "cd", seq);
	CU_ASSERT_STRING_EQUAL(seq, "cdccdc");
	for (i = 0; i < 3000; i++)
		count[bal_select(&f.bp, NULL, elig_set, "cd")->cfg->index]++;
	CU_ASSERT_EQUAL(count[0] + count[1], 0);
	CU_ASSERT_EQUAL(count[2], 2000);
	CU_ASSERT_EQUAL(count[3], 1000);
	/* The primaries' state was left alone meanwhile. */
	CU_ASSERT_EQUAL(f.bp.peers[0].current, 0);
	CU_ASSERT_EQUAL(f.bp.peers[1].current, 0);
	/* A primary back: it takes every try again. */
	run(&f, 3, NULL, elig_set, "acd", seq);
	CU_ASSERT_STRING_EQUAL(seq, "aaa");
	bal_pool_free(&f.bp);
}

static void
test_all_tried(void)
{
	static const uint64_t	 w[] = { 1, 1, 1 };
	struct fixture		 f;
	bool			 tried[3] = { true, true, true };
	char			 seq[32];

	/* a b primaries, c a backup; all tried. */
	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_ROUND_ROBIN, w, 3,
	    "ppb"), 0);
	run(&f, 4, tried, NULL, NULL, seq);
	CU_ASSERT_STRING_EQUAL(seq, "abab");
	run(&f, 2, tried, elig_set, "bc", seq);
	CU_ASSERT_STRING_EQUAL(seq, "bb");
	/* Only the tried backup left. */
	run(&f, 2, tried, elig_set, "c", seq);
	CU_ASSERT_STRING_EQUAL(seq, "cc");
	/* An untried backup still beats every tried primary. */
	tried[2] = false;
	run(&f, 2, tried, NULL, NULL, seq);
	CU_ASSERT_STRING_EQUAL(seq, "cc");
	bal_pool_free(&f.bp);
}

static void
test_none_eligible(void)
{
	static const uint64_t	 w[] = { 1, 1 };
	struct fixture		 f;
	bool			 tried[2] = { true, true };
	struct elig_count	 c;

	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_ROUND_ROBIN, w, 2,
	    "pb"), 0);
	CU_ASSERT_PTR_NULL(bal_select(&f.bp, NULL, elig_none, NULL));
	CU_ASSERT_PTR_NULL(bal_select(&f.bp, tried, elig_none, NULL));
	CU_ASSERT_PTR_NULL(bal_select(&f.bp, tried, elig_set, ""));
	CU_ASSERT_EQUAL(f.bp.peers[0].current, 0);
	CU_ASSERT_EQUAL(f.bp.peers[1].current, 0);
	bal_pool_free(&f.bp);

	/* The callback is asked once per peer per selection, nothing more. */
	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_LEAST_CONN, w, 2,
	    "pb"), 0);
	memset(&c, 0, sizeof(c));
	CU_ASSERT_PTR_NOT_NULL(bal_select(&f.bp, NULL, elig_count, &c));
	CU_ASSERT_PTR_NOT_NULL(bal_select(&f.bp, tried, elig_count, &c));
	CU_ASSERT_EQUAL(c.calls[0], 2);
	CU_ASSERT_EQUAL(c.calls[1], 2);
	bal_pool_free(&f.bp);
}

static void
test_lc_least_busy(void)
{
	static const uint64_t	 w[] = { 1, 1, 1 };
	struct fixture		 f;
	struct bal_peer		*p;
	int			 i;

	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_LEAST_CONN, w, 3,
	    NULL), 0);
	for (i = 0; i < 3; i++)
		bal_start(&f.bp, &f.bp.peers[0]);
	bal_start(&f.bp, &f.bp.peers[1]);
	for (i = 0; i < 2; i++)
		bal_start(&f.bp, &f.bp.peers[2]);
	/* in flight 3, 1, 2 */
	p = bal_select(&f.bp, NULL, NULL, NULL);
	CU_ASSERT_EQUAL(name(&f, p), 'b');
	bal_start(&f.bp, p);
	/* 3, 2, 2: a tie between b and c. */
	p = bal_select(&f.bp, NULL, NULL, NULL);
	CU_ASSERT(name(&f, p) == 'b' || name(&f, p) == 'c');
	/* Tried or ineligible peers are out even when least busy. */
	bal_done(&f.bp, &f.bp.peers[1]);
	bal_done(&f.bp, &f.bp.peers[1]);
	p = bal_select(&f.bp, (const bool[]){ false, true, false }, NULL,
	    NULL);
	CU_ASSERT_EQUAL(name(&f, p), 'c');
	p = bal_select(&f.bp, NULL, elig_set, "a");
	CU_ASSERT_EQUAL(name(&f, p), 'a');
	bal_pool_free(&f.bp);
}

static void
test_lc_weight(void)
{
	static const uint64_t	 w[] = { 2, 1 };
	struct fixture		 f;
	struct bal_peer		*p, *ring[30];
	int			 i, count[2] = { 0, 0 };
	size_t			 k;

	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_LEAST_CONN, w, 2,
	    NULL), 0);
	/* a=1/2 < b=1/1 */
	bal_start(&f.bp, &f.bp.peers[0]);
	bal_start(&f.bp, &f.bp.peers[1]);
	CU_ASSERT_EQUAL(name(&f, bal_select(&f.bp, NULL, NULL, NULL)), 'a');
	/* a=3/2 > b=1/1 */
	bal_start(&f.bp, &f.bp.peers[0]);
	bal_start(&f.bp, &f.bp.peers[0]);
	CU_ASSERT_EQUAL(name(&f, bal_select(&f.bp, NULL, NULL, NULL)), 'b');
	for (i = 0; i < 3; i++)
		bal_done(&f.bp, &f.bp.peers[0]);
	bal_done(&f.bp, &f.bp.peers[1]);

	/* Steady concurrency of 30: each new try replaces the oldest. */
	for (k = 0; k < 30; k++) {
		ring[k] = bal_select(&f.bp, NULL, NULL, NULL);
		bal_start(&f.bp, ring[k]);
	}
	CU_ASSERT_EQUAL(f.bp.peers[0].active, 20);
	CU_ASSERT_EQUAL(f.bp.peers[1].active, 10);
	for (i = 0; i < 3000; i++) {
		k = (size_t)i % 30;
		bal_done(&f.bp, ring[k]);
		p = bal_select(&f.bp, NULL, NULL, NULL);
		bal_start(&f.bp, p);
		ring[k] = p;
		count[p->cfg->index]++;
	}
	CU_ASSERT(abs(count[0] - 2000) <= 30);
	CU_ASSERT(abs(count[1] - 1000) <= 30);

	/* Idle (no try ever in flight at selection): still 2:1. */
	for (k = 0; k < 30; k++)
		bal_done(&f.bp, ring[k]);
	count[0] = count[1] = 0;
	for (i = 0; i < 3000; i++)
		count[bal_select(&f.bp, NULL, NULL, NULL)->cfg->index]++;
	CU_ASSERT_EQUAL(count[0], 2000);
	CU_ASSERT_EQUAL(count[1], 1000);
	bal_pool_free(&f.bp);
}

static void
test_lc_ties_rotate(void)
{
	static const uint64_t	 w[] = { 1, 1, 1 };
	struct fixture		 f;
	struct bal_peer		*p[3];
	char			 seq[32];
	int			 count[3] = { 0, 0, 0 };
	size_t			 i;

	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_LEAST_CONN, w, 3,
	    NULL), 0);
	/* Idle: equal peers alternate instead of the first taking all. */
	run(&f, 6, NULL, NULL, NULL, seq);
	CU_ASSERT_STRING_EQUAL(seq, "abcabc");
	/* Concurrent: each busy peer is passed over. */
	for (i = 0; i < 3; i++) {
		p[i] = bal_select(&f.bp, NULL, NULL, NULL);
		bal_start(&f.bp, p[i]);
		seq[i] = name(&f, p[i]);
	}
	seq[3] = '\0';
	CU_ASSERT_STRING_EQUAL(seq, "abc");
	for (i = 0; i < 3; i++)
		bal_done(&f.bp, p[i]);
	/* Whatever the history, idle ties share evenly from then on. */
	for (i = 0; i < 3000; i++)
		count[bal_select(&f.bp, NULL, NULL, NULL)->cfg->index]++;
	for (i = 0; i < 3; i++)
		CU_ASSERT(abs(count[i] - 1000) <= 2);
	bal_pool_free(&f.bp);

	/* A tie between two of three: those two alternate. */
	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_LEAST_CONN, w, 3,
	    NULL), 0);
	bal_start(&f.bp, &f.bp.peers[1]);
	run(&f, 4, NULL, NULL, NULL, seq);
	CU_ASSERT_STRING_EQUAL(seq, "acac");
	bal_pool_free(&f.bp);
}

static void
test_start_done(void)
{
	static const uint64_t	 w[] = { 1, 1 };
	struct fixture		 f;
	struct bal_peer		*a, *b;

	CU_ASSERT_EQUAL_FATAL(fixture_init(&f, CFG_BALANCE_LEAST_CONN, w, 2,
	    NULL), 0);
	a = &f.bp.peers[0];
	b = &f.bp.peers[1];
	bal_start(&f.bp, a);
	bal_start(&f.bp, a);
	bal_start(&f.bp, b);
	CU_ASSERT_EQUAL(a->active, 2);
	CU_ASSERT_EQUAL(b->active, 1);
	bal_done(&f.bp, a);
	CU_ASSERT_EQUAL(a->active, 1);
	CU_ASSERT_EQUAL(b->active, 1);
	bal_done(&f.bp, a);
	bal_done(&f.bp, b);
	CU_ASSERT_EQUAL(a->active, 0);
	CU_ASSERT_EQUAL(b->active, 0);
	/* Unpaired: stays at zero. */
	bal_done(&f.bp, a);
	CU_ASSERT_EQUAL(a->active, 0);
	/* Selection alone changes no count. */
	CU_ASSERT_PTR_NOT_NULL(bal_select(&f.bp, NULL, NULL, NULL));
	CU_ASSERT_EQUAL(a->active + b->active, 0);
	bal_pool_free(&f.bp);
}

int
main(void)
{
	CU_pSuite	 s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("balance", NULL, NULL);
	CU_add_test(s, "init and free", test_init_free);
	CU_add_test(s, "wrr: 5,1,1 gives aabacaa", test_wrr_511);
	CU_add_test(s, "wrr: equal weights alternate", test_wrr_equal);
	CU_add_test(s, "wrr: 3:2:1 over 10000", test_wrr_distribution);
	CU_add_test(s, "tried peers skipped", test_tried_skipped);
	CU_add_test(s, "backups only without a primary", test_backups);
	CU_add_test(s, "all tried: retry, primaries first", test_all_tried);
	CU_add_test(s, "nothing eligible: NULL", test_none_eligible);
	CU_add_test(s, "least_conn: least busy", test_lc_least_busy);
	CU_add_test(s, "least_conn: weights", test_lc_weight);
	CU_add_test(s, "least_conn: ties rotate", test_lc_ties_rotate);
	CU_add_test(s, "start/done bookkeeping", test_start_done);
	return tap_run_registry();
}
