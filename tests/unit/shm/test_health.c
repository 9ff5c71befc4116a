/*
 * Unit tests for shm/health.c: the peer health state machine of
 * DESIGN.md §4.6-4.7 (ejection, recovery probe, backoff, admin states),
 * suspicion and trial connects, and the fixed form of its transition
 * lines.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "health.h"
#include "tap.h"

#define T0		1700000000000ULL	/* some wall-clock ms */
#define FT		10000ULL		/* fail_timeout: 10s */
#define STALE		5000ULL			/* probe_stale */
#define TSTALE		200ULL			/* trial_stale */
#define CAP		600000ULL		/* backoff cap: 10 minutes */
#define PID_A		1236
#define PID_B		1237
#define PID_CTL		4242

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

static struct health_params
params(uint32_t max_fails)
{
	struct health_params	 hp;

	hp.max_fails = max_fails;
	hp.fail_timeout_ms = FT;
	hp.probe_stale_ms = STALE;
	hp.trial_stale_ms = TSTALE;
	return hp;
}

/* A record as the master creates it: up, never connected to. */
static struct store_peer
peer_fresh(void)
{
	struct store_peer	 p;

	memset(&p, 0x5a, sizeof(p));	/* health_init() must clear it all */
	health_init(&p);
	return p;
}

/* A peer in service: up, and a connect to it has completed. */
static struct store_peer
peer_up(void)
{
	struct store_peer	 p = peer_fresh();

	health_on_connect(&p, false, PID_A, T0, NULL);
	return p;
}

/* A peer ejected once, at `at', with max_fails 1. */
static struct store_peer
peer_down(uint64_t at)
{
	struct store_peer	 p = peer_up();
	struct health_params	 hp = params(1);

	health_on_failure(&p, &hp, FAIL_CONNECT_REFUSED, "refused", PID_A, at,
	    NULL);
	return p;
}

/* A peer ejected at `at' whose probe PID_A claimed when it could. */
static struct store_peer
peer_probing(uint64_t at)
{
	struct store_peer	 p = peer_down(at);
	struct health_params	 hp = params(1);

	health_claim_probe(&p, &hp, PID_A, at + FT, NULL);
	return p;
}

static void
ev_poison(struct store_event *ev)
{
	memset(ev, 0x5a, sizeof(*ev));
}

static bool
ev_untouched(const struct store_event *ev)
{
	struct store_event	 poison;

	ev_poison(&poison);
	return memcmp(ev, &poison, sizeof(poison)) == 0;
}

static const char *const pick_names[] = { "no", "yes", "probe", "trial",
    "last" };

static void
test_init(void)
{
	struct store_peer	 p = peer_fresh();
	struct store_peer	 zero;
	struct health_params	 hp = params(1);

	memset(&zero, 0, sizeof(zero));
	zero.version = STORE_LAYOUT_VERSION;
	CU_ASSERT_EQUAL(memcmp(&p, &zero, sizeof(p)), 0);
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(p.admin, ADMIN_NONE);
	CU_ASSERT_STRING_EQUAL(health_state_name(&p), "up");
	/* Not proven yet: its first connect is a trial (test_unproven). */
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0), HEALTH_PICK_TRIAL);
	CU_ASSERT_FALSE(health_success_needs_write(&p));
	CU_ASSERT_FALSE(health_is_suspect(&p));
	CU_ASSERT_TRUE(health_is_unproven(&p));
}

struct threshold_row {
	uint32_t		 max_fails;
	uint32_t		 nfail;
	enum health_state	 want;
	uint32_t		 want_ejections;
	bool			 want_last_ret;
};

static const struct threshold_row thresholds[] = {
	{ 1, 1, HEALTH_DOWN, 1, true },
	{ 1, 2, HEALTH_DOWN, 1, false },	/* in flight before the mark */
	{ 3, 1, HEALTH_UP, 0, false },
	{ 3, 2, HEALTH_UP, 0, false },
	{ 3, 3, HEALTH_DOWN, 1, true },
	{ 3, 4, HEALTH_DOWN, 1, false },
	{ 3, 7, HEALTH_DOWN, 1, false },
	{ 0, 1, HEALTH_DOWN, 1, true },		/* 0 is taken as 1 */
};

static void
test_thresholds(void)
{
	const struct threshold_row	*r;
	struct health_params		 hp;
	struct store_peer		 p;
	uint64_t			 now, eject_at;
	uint32_t			 i, trues;
	size_t				 k;
	bool				 ret, ok;

	for (k = 0; k < NITEMS(thresholds); k++) {
		r = &thresholds[k];
		hp = params(r->max_fails);
		p = peer_up();
		trues = 0;
		ret = false;
		eject_at = 0;
		for (i = 0; i < r->nfail; i++) {
			now = T0 + i * 100;
			ret = health_on_failure(&p, &hp, FAIL_CONNECT_TIMEOUT,
			    "timeout", PID_A, now, NULL);
			if (ret) {
				trues++;
				eject_at = now;
			}
		}
		ok = p.health == r->want && p.ejections == r->want_ejections &&
		    trues == r->want_ejections && ret == r->want_last_ret &&
		    p.consecutive_failures == r->nfail &&
		    p.last_failure_ms == T0 + (r->nfail - 1) * 100 &&
		    p.requests == 0 && p.failures == 0;
		if (r->want == HEALTH_DOWN)
			ok = ok && p.down_until_ms == eject_at + FT &&
			    p.backoff_level == 1 && p.changed_ms == eject_at;
		else
			ok = ok && p.down_until_ms == 0 && p.backoff_level == 0;
		if (!tap_result(ok, "thresholds: max_fails %u, %u failures -> %s",
		    r->max_fails, r->nfail, r->want == HEALTH_UP ? "up" :
		    "down")) {
			printf("#   got %s, streak %u, ejections %u, "
			    "down_until +%" PRIu64 "\n", health_state_name(&p),
			    p.consecutive_failures, p.ejections,
			    p.down_until_ms - eject_at);
			CU_FAIL("threshold row");
		}
	}
}

struct pick_row {
	uint64_t		 after;		/* ms after the ejection */
	enum health_pick	 want;
};

static const struct pick_row down_picks[] = {
	{ 0, HEALTH_PICK_NO },
	{ 1, HEALTH_PICK_NO },
	{ FT / 2, HEALTH_PICK_NO },
	{ FT - 1, HEALTH_PICK_NO },
	{ FT, HEALTH_PICK_PROBE },
	{ FT + 1, HEALTH_PICK_PROBE },
	{ 100 * FT, HEALTH_PICK_PROBE },
};

static void
test_down_until_then_probe(void)
{
	struct store_peer	 p = peer_down(T0);
	struct health_params	 hp = params(1);
	enum health_pick	 got;
	uint64_t		 t;
	size_t			 k;
	bool			 early;

	for (k = 0; k < NITEMS(down_picks); k++) {
		got = health_pick(&p, &hp, T0 + down_picks[k].after);
		if (!tap_result(got == down_picks[k].want,
		    "down: pick %" PRIu64 "ms after the ejection -> %s",
		    down_picks[k].after, pick_names[down_picks[k].want])) {
			printf("#   got %s\n", pick_names[got]);
			CU_FAIL("pick row");
		}
	}
	/* Never YES while down, and not a probe a millisecond early. */
	early = false;
	for (t = T0 - 1000; t < T0 + 2 * FT; t++) {
		got = health_pick(&p, &hp, t);
		if (got == HEALTH_PICK_YES ||
		    (got == HEALTH_PICK_PROBE && t < T0 + FT))
			early = true;
	}
	CU_ASSERT_FALSE(early);
	/* The clock stepped back before the ejection: still down. */
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 - 3600000), HEALTH_PICK_NO);
	CU_ASSERT_STRING_EQUAL(health_state_name(&p), "down");
	/* Claiming early fails and changes nothing. */
	{
		struct store_peer	 before = p;
		struct store_event	 ev;

		ev_poison(&ev);
		CU_ASSERT_FALSE(health_claim_probe(&p, &hp, PID_B, T0 + FT - 1,
		    &ev));
		CU_ASSERT_EQUAL(memcmp(&p, &before, sizeof(p)), 0);
		CU_ASSERT_TRUE(ev_untouched(&ev));
	}
}

static void
test_one_claimant(void)
{
	struct store_peer	 p = peer_down(T0), before, up = peer_up();
	struct health_params	 hp = params(1);
	struct store_event	 ev;
	uint64_t		 claim_at = T0 + FT;

	ev_poison(&ev);
	CU_ASSERT_TRUE(health_claim_probe(&p, &hp, PID_A, claim_at, &ev));
	CU_ASSERT_EQUAL(p.health, HEALTH_PROBING);
	CU_ASSERT_EQUAL(p.probe_pid, PID_A);
	CU_ASSERT_EQUAL(p.probe_started_ms, claim_at);
	CU_ASSERT_EQUAL(p.changed_ms, claim_at);
	CU_ASSERT_EQUAL(p.consecutive_failures, 1);
	CU_ASSERT_EQUAL(ev.from, HEALTH_DOWN);
	CU_ASSERT_EQUAL(ev.to, HEALTH_PROBING);
	CU_ASSERT_EQUAL(ev.cause, FAIL_NONE);
	CU_ASSERT_EQUAL(ev.pid, PID_A);
	CU_ASSERT_EQUAL(ev.at_ms, claim_at);
	CU_ASSERT_STRING_EQUAL(health_state_name(&p), "probing");

	/* Every other request, of any worker (and the same one), loses. */
	before = p;
	ev_poison(&ev);
	CU_ASSERT_EQUAL(health_pick(&p, &hp, claim_at), HEALTH_PICK_NO);
	CU_ASSERT_FALSE(health_claim_probe(&p, &hp, PID_B, claim_at, &ev));
	CU_ASSERT_FALSE(health_claim_probe(&p, &hp, PID_A, claim_at + 1, &ev));
	CU_ASSERT_FALSE(health_claim_probe(&p, &hp, PID_B,
	    claim_at + STALE - 1, &ev));
	CU_ASSERT_EQUAL(health_pick(&p, &hp, claim_at + STALE - 1),
	    HEALTH_PICK_NO);
	CU_ASSERT_EQUAL(memcmp(&p, &before, sizeof(p)), 0);
	CU_ASSERT_TRUE(ev_untouched(&ev));

	/* The owner died: after probe_stale_ms another may take over. */
	CU_ASSERT_EQUAL(health_pick(&p, &hp, claim_at + STALE),
	    HEALTH_PICK_PROBE);
	CU_ASSERT_TRUE(health_claim_probe(&p, &hp, PID_B, claim_at + STALE,
	    &ev));
	CU_ASSERT_EQUAL(p.probe_pid, PID_B);
	CU_ASSERT_EQUAL(p.probe_started_ms, claim_at + STALE);
	CU_ASSERT_EQUAL(ev.from, HEALTH_PROBING);
	CU_ASSERT_EQUAL(ev.to, HEALTH_PROBING);
	CU_ASSERT_EQUAL(ev.pid, PID_B);
	/* ...and the new probe is live in turn. */
	CU_ASSERT_FALSE(health_claim_probe(&p, &hp, PID_A,
	    claim_at + STALE + 1, NULL));
	/* The clock stepped back: the probe is live, not doubled. */
	CU_ASSERT_EQUAL(health_pick(&p, &hp, claim_at), HEALTH_PICK_NO);

	/* Nothing to claim on an up peer; pid 0 can never own a probe. */
	before = up;
	CU_ASSERT_FALSE(health_claim_probe(&up, &hp, PID_A, T0, NULL));
	CU_ASSERT_EQUAL(memcmp(&up, &before, sizeof(up)), 0);
	p = peer_down(T0);
	CU_ASSERT_FALSE(health_claim_probe(&p, &hp, 0, T0 + FT, NULL));
	CU_ASSERT_FALSE(health_claim_probe(&p, &hp, -1, T0 + FT, NULL));
	CU_ASSERT_EQUAL(p.health, HEALTH_DOWN);
	CU_ASSERT_EQUAL(p.probe_pid, 0);
}

static void
test_probe_success(void)
{
	struct store_peer	 p = peer_probing(T0);
	struct health_params	 hp = params(1);
	struct store_event	 ev;
	uint64_t		 at = T0 + FT + 30;

	CU_ASSERT_TRUE(health_success_needs_write(&p));
	/* The probe connected afresh: proven again (an ejection unproves). */
	CU_ASSERT_EQUAL(p.proven, 0);
	CU_ASSERT_FALSE(health_on_connect(&p, false, PID_A, at - 1, NULL));
	CU_ASSERT_EQUAL(p.proven, 1);
	ev_poison(&ev);
	CU_ASSERT_TRUE(health_on_success(&p, PID_A, at, &ev));
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(p.consecutive_failures, 0);
	CU_ASSERT_EQUAL(p.backoff_level, 0);
	CU_ASSERT_EQUAL(p.down_until_ms, 0);
	CU_ASSERT_EQUAL(p.probe_pid, 0);
	CU_ASSERT_EQUAL(p.probe_started_ms, 0);
	CU_ASSERT_EQUAL(p.ejections, 1);
	CU_ASSERT_EQUAL(p.changed_ms, at);
	CU_ASSERT_EQUAL(p.last_kind, FAIL_CONNECT_REFUSED);	/* history */
	CU_ASSERT_EQUAL(ev.from, HEALTH_PROBING);
	CU_ASSERT_EQUAL(ev.to, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.cause, FAIL_NONE);
	CU_ASSERT_EQUAL(ev.consecutive_failures, 0);
	CU_ASSERT_EQUAL(ev.at_ms, at);
	CU_ASSERT_EQUAL(health_pick(&p, &hp, at), HEALTH_PICK_YES);
	CU_ASSERT_FALSE(health_success_needs_write(&p));
	/* Back at level 1: the next ejection waits fail_timeout again. */
	CU_ASSERT_TRUE(health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_B,
	    at + 1, NULL));
	CU_ASSERT_EQUAL(p.down_until_ms, at + 1 + FT);
	CU_ASSERT_EQUAL(p.ejections, 2);

	/* A request in flight before the ejection succeeds: up as well. */
	p = peer_down(T0);
	ev_poison(&ev);
	CU_ASSERT_TRUE(health_on_success(&p, PID_B, T0 + 5, &ev));
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.from, HEALTH_DOWN);
	CU_ASSERT_EQUAL(ev.to, HEALTH_UP);
}

static void
test_probe_failure(void)
{
	struct store_peer	 p = peer_probing(T0);
	struct health_params	 hp = params(1);
	struct store_event	 ev;
	uint64_t		 t1 = T0 + FT + 50, t2;

	ev_poison(&ev);
	CU_ASSERT_TRUE(health_on_failure(&p, &hp, FAIL_READ_TIMEOUT,
	    "no answer", PID_A, t1, &ev));
	CU_ASSERT_EQUAL(p.health, HEALTH_DOWN);
	CU_ASSERT_EQUAL(p.down_until_ms, t1 + 2 * FT);
	CU_ASSERT_EQUAL(p.backoff_level, 2);
	CU_ASSERT_EQUAL(p.ejections, 2);
	CU_ASSERT_EQUAL(p.consecutive_failures, 2);
	CU_ASSERT_EQUAL(p.probe_pid, 0);
	CU_ASSERT_EQUAL(p.probe_started_ms, 0);
	CU_ASSERT_EQUAL(ev.from, HEALTH_PROBING);
	CU_ASSERT_EQUAL(ev.to, HEALTH_DOWN);
	CU_ASSERT_EQUAL(ev.cause, FAIL_READ_TIMEOUT);
	CU_ASSERT_EQUAL(ev.consecutive_failures, 2);

	/* The next probe only after the doubled timeout; it fails too. */
	CU_ASSERT_FALSE(health_claim_probe(&p, &hp, PID_B,
	    t1 + 2 * FT - 1, NULL));
	CU_ASSERT_TRUE(health_claim_probe(&p, &hp, PID_B, t1 + 2 * FT, NULL));
	t2 = t1 + 2 * FT + 7;
	CU_ASSERT_TRUE(health_on_failure(&p, &hp, FAIL_CONNECT_REFUSED, NULL,
	    PID_B, t2, NULL));
	CU_ASSERT_EQUAL(p.down_until_ms, t2 + 4 * FT);
	CU_ASSERT_EQUAL(p.backoff_level, 3);
	CU_ASSERT_EQUAL(p.ejections, 3);

	/* With max_fails 3, one failed probe is enough to go down again. */
	hp = params(3);
	p = peer_up();
	health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A, T0, NULL);
	health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A, T0, NULL);
	CU_ASSERT_TRUE(health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A, T0,
	    NULL));
	CU_ASSERT_TRUE(health_claim_probe(&p, &hp, PID_A, T0 + FT, NULL));
	CU_ASSERT_TRUE(health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A,
	    T0 + FT, NULL));
	CU_ASSERT_EQUAL(p.health, HEALTH_DOWN);
	CU_ASSERT_EQUAL(p.down_until_ms, T0 + FT + 2 * FT);
}

struct backoff_row {
	uint64_t	 fail_timeout;
	uint32_t	 level;
	uint64_t	 want;
};

static const struct backoff_row backoffs[] = {
	{ FT, 0, FT },
	{ FT, 1, FT },
	{ FT, 2, 2 * FT },
	{ FT, 3, 4 * FT },
	{ FT, 6, 32 * FT },
	{ FT, 7, CAP },			/* 640s, capped */
	{ FT, 8, CAP },
	{ FT, UINT32_MAX, CAP },
	{ 7 * 60000, 1, 7 * 60000 },
	{ 7 * 60000, 2, CAP },
	{ 15 * 60000, 1, 15 * 60000 },	/* above the cap: no backoff */
	{ 15 * 60000, 9, 15 * 60000 },
	{ 0, 5, 0 },
	{ 1, 20, 524288 },
	{ 1, 21, CAP },
	{ UINT64_MAX, 3, UINT64_MAX },
};

static void
test_backoff(void)
{
	const struct backoff_row	*r;
	struct health_params		 hp = params(1);
	struct store_peer		 p;
	uint64_t			 got, now, want;
	uint32_t			 n;
	size_t				 k;
	bool				 ok;

	for (k = 0; k < NITEMS(backoffs); k++) {
		r = &backoffs[k];
		hp.fail_timeout_ms = r->fail_timeout;
		got = health_down_ms(&hp, r->level);
		if (!tap_result(got == r->want, "backoff: fail_timeout %" PRIu64
		    "ms, level %u -> %" PRIu64 "ms", r->fail_timeout, r->level,
		    r->want)) {
			printf("#   got %" PRIu64 "\n", got);
			CU_FAIL("backoff row");
		}
	}

	/* Through the machine: each failed probe doubles, up to the cap. */
	hp = params(1);
	p = peer_up();
	now = T0;
	ok = true;
	for (n = 1; n <= 12; n++) {
		if (n > 1 && !health_claim_probe(&p, &hp, PID_A, now, NULL))
			ok = false;
		if (!health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A, now,
		    NULL))
			ok = false;
		want = n <= 7 && (FT << (n - 1)) < CAP ? FT << (n - 1) : CAP;
		if (p.down_until_ms - now != want || p.backoff_level != n ||
		    p.ejections != n) {
			printf("#   ejection %u: down for %" PRIu64 "ms\n", n,
			    p.down_until_ms - now);
			ok = false;
		}
		now = p.down_until_ms;
	}
	CU_ASSERT_TRUE(tap_result(ok, "backoff: 12 failed probes, capped at "
	    "10 minutes"));
	/* A huge fail_timeout saturates down_until instead of wrapping. */
	hp.fail_timeout_ms = UINT64_MAX;
	p = peer_up();
	CU_ASSERT_TRUE(health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A, T0,
	    NULL));
	CU_ASSERT_EQUAL(p.down_until_ms, UINT64_MAX);
}

static void
test_success_resets_streak(void)
{
	struct store_peer	 p = peer_up(), before;
	struct health_params	 hp = params(3);
	struct store_event	 ev;

	CU_ASSERT_FALSE(health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A,
	    T0, NULL));
	CU_ASSERT_FALSE(health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A,
	    T0, NULL));
	CU_ASSERT_EQUAL(p.consecutive_failures, 2);
	CU_ASSERT_TRUE(health_success_needs_write(&p));
	ev_poison(&ev);
	CU_ASSERT_FALSE(health_on_success(&p, PID_B, T0 + 1, &ev));
	CU_ASSERT_TRUE(ev_untouched(&ev));
	CU_ASSERT_EQUAL(p.consecutive_failures, 0);
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(p.changed_ms, 0);		/* no state change */
	CU_ASSERT_FALSE(health_success_needs_write(&p));
	/* The streak starts over: two more failures leave it up. */
	CU_ASSERT_FALSE(health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A,
	    T0 + 2, NULL));
	CU_ASSERT_FALSE(health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A,
	    T0 + 3, NULL));
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_TRUE(health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A,
	    T0 + 4, NULL));
	/* A success on a clean up peer changes nothing at all. */
	p = peer_up();
	before = p;
	CU_ASSERT_FALSE(health_on_success(&p, PID_A, T0, NULL));
	CU_ASSERT_EQUAL(memcmp(&p, &before, sizeof(p)), 0);
}

struct needs_write_row {
	const char	*what;
	struct store_peer (*make)(void);
	bool		 want;
};

static struct store_peer
nw_clean(void)
{
	return peer_up();
}

static struct store_peer
nw_streak(void)
{
	struct store_peer	 p = peer_up();

	p.consecutive_failures = 1;
	return p;
}

static struct store_peer
nw_down(void)
{
	return peer_down(T0);
}

static struct store_peer
nw_probing(void)
{
	return peer_probing(T0);
}

static struct store_peer
nw_draining(void)
{
	struct store_peer	 p = peer_up();

	health_set_admin(&p, ADMIN_DRAINING, PID_CTL, T0, NULL);
	return p;
}

static const struct needs_write_row needs_write[] = {
	{ "clean up peer", nw_clean, false },
	{ "draining, clean up peer", nw_draining, false },
	{ "up, streak 1", nw_streak, true },
	{ "down", nw_down, true },
	{ "probing", nw_probing, true },
};

static void
test_needs_write(void)
{
	struct store_peer	 p;
	size_t			 k;
	bool			 got;

	for (k = 0; k < NITEMS(needs_write); k++) {
		p = needs_write[k].make();
		got = health_success_needs_write(&p);
		if (!tap_result(got == needs_write[k].want,
		    "success needs a write: %s -> %s", needs_write[k].what,
		    needs_write[k].want ? "yes" : "no"))
			CU_FAIL("needs_write row");
	}
}

static void
test_non_blaming(void)
{
	static const enum failure_kind kinds[] = {
		FAIL_NONE, FAIL_STALE, FAIL_CLIENT_ABORT, FAIL_CONNECT_SLOW,
		FAIL_KIND_MAX,
		(enum failure_kind)200,
	};
	static const struct {
		const char	*what;
		struct store_peer (*make)(void);
	} states[] = {
		{ "up with a streak", nw_streak },
		{ "down", nw_down },
		{ "probing", nw_probing },
	};
	struct health_params	 hp = params(1);
	struct store_peer	 p, before;
	struct store_event	 ev;
	size_t			 i, j;
	bool			 ret, ok;

	for (i = 0; i < NITEMS(kinds); i++) {
		for (j = 0; j < NITEMS(states); j++) {
			p = before = states[j].make();
			ev_poison(&ev);
			ret = health_on_failure(&p, &hp, kinds[i], "x", PID_B,
			    T0 + 2 * FT, &ev);
			ok = !ret && memcmp(&p, &before, sizeof(p)) == 0 &&
			    ev_untouched(&ev);
			if (!tap_result(ok, "not the peer's fault: %s (%d) on "
			    "%s changes nothing", failure_name(kinds[i]),
			    (int)kinds[i], states[j].what))
				CU_FAIL("non-blaming row");
		}
	}
}

static void
test_blaming_kinds(void)
{
	struct health_params	 hp = params(1);
	struct store_peer	 p;
	struct store_event	 ev;
	int			 k;
	bool			 ok;

	for (k = FAIL_CONNECT_REFUSED; k <= FAIL_STATUS; k++) {
		p = peer_up();
		ev_poison(&ev);
		ok = health_on_failure(&p, &hp, (enum failure_kind)k, NULL,
		    PID_A, T0, &ev) && p.health == HEALTH_DOWN &&
		    p.last_kind == k && ev.cause == k;
		if (!tap_result(ok, "blames the peer: %s ejects at max_fails 1",
		    failure_name((enum failure_kind)k)))
			CU_FAIL("blaming row");
	}
}

struct admin_row {
	enum admin_state	 admin;
	enum health_state	 health;
	bool			 past;		/* down_until passed */
	enum health_pick	 want_pick;
	const char		*want_name;
};

/* store-t.h's truth table, one row per cell (and down split in two). */
static const struct admin_row admin_table[] = {
	{ ADMIN_NONE, HEALTH_UP, false, HEALTH_PICK_YES, "up" },
	{ ADMIN_NONE, HEALTH_DOWN, false, HEALTH_PICK_NO, "down" },
	{ ADMIN_NONE, HEALTH_DOWN, true, HEALTH_PICK_PROBE, "down" },
	{ ADMIN_NONE, HEALTH_PROBING, true, HEALTH_PICK_NO, "probing" },
	{ ADMIN_DRAINING, HEALTH_UP, false, HEALTH_PICK_NO, "draining" },
	{ ADMIN_DRAINING, HEALTH_DOWN, false, HEALTH_PICK_NO, "draining" },
	{ ADMIN_DRAINING, HEALTH_DOWN, true, HEALTH_PICK_NO, "draining" },
	{ ADMIN_DRAINING, HEALTH_PROBING, true, HEALTH_PICK_NO, "draining" },
	{ ADMIN_DISABLED, HEALTH_UP, false, HEALTH_PICK_NO, "disabled" },
	{ ADMIN_DISABLED, HEALTH_DOWN, false, HEALTH_PICK_NO, "disabled" },
	{ ADMIN_DISABLED, HEALTH_DOWN, true, HEALTH_PICK_NO, "disabled" },
	{ ADMIN_DISABLED, HEALTH_PROBING, true, HEALTH_PICK_NO, "disabled" },
};

static void
test_admin_truth_table(void)
{
	static const char *const hn[] = { "up", "down", "probing" };
	static const char *const an[] = { "none", "draining", "disabled" };
	const struct admin_row	*r;
	struct health_params	 hp = params(1);
	struct store_peer	 p;
	enum health_pick	 got;
	const char		*name;
	uint64_t		 now;
	size_t			 k;
	bool			 claimed;

	for (k = 0; k < NITEMS(admin_table); k++) {
		r = &admin_table[k];
		switch (r->health) {
		case HEALTH_UP:
			p = peer_up();
			break;
		case HEALTH_DOWN:
			p = peer_down(T0);
			break;
		default:
			p = peer_probing(T0);
			break;
		}
		health_set_admin(&p, r->admin, PID_CTL, T0, NULL);
		now = r->past ? T0 + FT + 1 : T0 + 1;
		got = health_pick(&p, &hp, now);
		name = health_state_name(&p);
		/* The claim agrees with the pick, whatever the admin state. */
		claimed = health_claim_probe(&p, &hp, PID_B, now, NULL);
		if (!tap_result(got == r->want_pick &&
		    claimed == (r->want_pick == HEALTH_PICK_PROBE) &&
		    strcmp(name, r->want_name) == 0,
		    "admin %s, health %s%s -> pick %s, shown %s", an[r->admin],
		    hn[r->health], r->past ? " (timeout passed)" : "",
		    pick_names[r->want_pick], r->want_name)) {
			printf("#   got pick %s, shown %s, claimed %d\n",
			    pick_names[got], name, claimed);
			CU_FAIL("admin row");
		}
	}
}

static void
test_admin_transitions(void)
{
	struct store_peer	 p = peer_up(), before;
	struct health_params	 hp = params(1);
	struct store_event	 ev;

	/* drain beats up */
	ev_poison(&ev);
	CU_ASSERT_TRUE(health_set_admin(&p, ADMIN_DRAINING, PID_CTL, T0, &ev));
	CU_ASSERT_EQUAL(p.admin, ADMIN_DRAINING);
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(p.changed_ms, T0);
	CU_ASSERT_EQUAL(ev.from, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.to, STORE_EVENT_ADMIN + ADMIN_DRAINING);
	CU_ASSERT_EQUAL(ev.cause, FAIL_NONE);
	CU_ASSERT_EQUAL(ev.pid, PID_CTL);
	CU_ASSERT_TRUE(health_event_is_admin(&ev));
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0), HEALTH_PICK_NO);
	CU_ASSERT_STRING_EQUAL(health_state_name(&p), "draining");

	/* the same again: nothing */
	before = p;
	ev_poison(&ev);
	CU_ASSERT_FALSE(health_set_admin(&p, ADMIN_DRAINING, PID_CTL, T0 + 1,
	    &ev));
	CU_ASSERT_EQUAL(memcmp(&p, &before, sizeof(p)), 0);
	CU_ASSERT_TRUE(ev_untouched(&ev));
	CU_ASSERT_FALSE(health_set_admin(&p, (enum admin_state)3, PID_CTL,
	    T0 + 1, &ev));
	CU_ASSERT_EQUAL(memcmp(&p, &before, sizeof(p)), 0);

	/* disable beats drain */
	CU_ASSERT_TRUE(health_set_admin(&p, ADMIN_DISABLED, PID_CTL, T0 + 2,
	    &ev));
	CU_ASSERT_EQUAL(ev.from, STORE_EVENT_ADMIN + ADMIN_DRAINING);
	CU_ASSERT_EQUAL(ev.to, STORE_EVENT_ADMIN + ADMIN_DISABLED);
	CU_ASSERT_STRING_EQUAL(health_state_name(&p), "disabled");

	/* health moves underneath: a failure still ejects */
	CU_ASSERT_TRUE(health_on_failure(&p, &hp, FAIL_CONNECT_REFUSED, NULL,
	    PID_A, T0 + 3, &ev));
	CU_ASSERT_FALSE(health_event_is_admin(&ev));
	CU_ASSERT_EQUAL(ev.from, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.to, HEALTH_DOWN);
	CU_ASSERT_STRING_EQUAL(health_state_name(&p), "disabled");
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 3 + FT), HEALTH_PICK_NO);

	/* enable returns to health: here, down, then its probe */
	CU_ASSERT_TRUE(health_set_admin(&p, ADMIN_NONE, PID_CTL, T0 + 4, &ev));
	CU_ASSERT_EQUAL(ev.from, STORE_EVENT_ADMIN + ADMIN_DISABLED);
	CU_ASSERT_EQUAL(ev.to, HEALTH_DOWN);
	CU_ASSERT_TRUE(health_event_is_admin(&ev));
	CU_ASSERT_STRING_EQUAL(health_state_name(&p), "down");
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 4), HEALTH_PICK_NO);
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 3 + FT), HEALTH_PICK_PROBE);
	CU_ASSERT_FALSE(health_set_admin(&p, ADMIN_NONE, PID_CTL, T0 + 5,
	    NULL));

	/* drain then enable an up peer: eligible again */
	p = peer_up();
	health_set_admin(&p, ADMIN_DRAINING, PID_CTL, T0, NULL);
	CU_ASSERT_TRUE(health_set_admin(&p, ADMIN_NONE, PID_CTL, T0 + 1, &ev));
	CU_ASSERT_EQUAL(ev.to, HEALTH_UP);
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 1), HEALTH_PICK_YES);
}

static void
test_reset(void)
{
	struct store_peer	 p = peer_probing(T0);
	struct health_params	 hp = params(1);
	struct store_event	 ev;

	health_add_counters(&p, 100, 10);
	p.ejections = 3;
	p.backoff_level = 3;
	p.consecutive_failures = 5;
	health_set_admin(&p, ADMIN_DRAINING, PID_CTL, T0, NULL);

	ev_poison(&ev);
	CU_ASSERT_TRUE(health_reset(&p, PID_CTL, T0 + FT + 1, &ev));
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(p.consecutive_failures, 0);
	CU_ASSERT_EQUAL(p.backoff_level, 0);
	CU_ASSERT_EQUAL(p.down_until_ms, 0);
	CU_ASSERT_EQUAL(p.probe_pid, 0);
	CU_ASSERT_EQUAL(p.probe_started_ms, 0);
	CU_ASSERT_EQUAL(p.changed_ms, T0 + FT + 1);
	/* kept: totals, admin, the last failure */
	CU_ASSERT_EQUAL(p.requests, 100);
	CU_ASSERT_EQUAL(p.failures, 10);
	CU_ASSERT_EQUAL(p.ejections, 3);
	CU_ASSERT_EQUAL(p.admin, ADMIN_DRAINING);
	CU_ASSERT_EQUAL(p.last_kind, FAIL_CONNECT_REFUSED);
	CU_ASSERT_EQUAL(p.last_failure_ms, T0);
	CU_ASSERT_STRING_EQUAL(p.last_failure_detail, "refused");
	CU_ASSERT_EQUAL(ev.from, HEALTH_PROBING);
	CU_ASSERT_EQUAL(ev.to, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.pid, PID_CTL);
	CU_ASSERT_STRING_EQUAL(health_state_name(&p), "draining");
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + FT + 1), HEALTH_PICK_NO);

	/* an up peer: the streak goes, no state change */
	p = nw_streak();
	ev_poison(&ev);
	CU_ASSERT_FALSE(health_reset(&p, PID_CTL, T0, &ev));
	CU_ASSERT_EQUAL(p.consecutive_failures, 0);
	CU_ASSERT_TRUE(ev_untouched(&ev));
}

static void
test_release_probe(void)
{
	struct store_peer	 p = peer_probing(T0), before;
	struct health_params	 hp = params(1);
	struct store_event	 ev;
	uint64_t		 at = T0 + FT + 20;

	/* Only the owner may release it. */
	before = p;
	CU_ASSERT_FALSE(health_release_probe(&p, FAIL_CLIENT_ABORT, PID_B, at,
	    NULL));
	CU_ASSERT_FALSE(health_release_probe(&p, FAIL_CLIENT_ABORT, 0, at,
	    NULL));
	CU_ASSERT_EQUAL(memcmp(&p, &before, sizeof(p)), 0);

	ev_poison(&ev);
	CU_ASSERT_TRUE(health_release_probe(&p, FAIL_CLIENT_ABORT, PID_A, at,
	    &ev));
	CU_ASSERT_EQUAL(p.health, HEALTH_DOWN);
	CU_ASSERT_EQUAL(p.probe_pid, 0);
	CU_ASSERT_EQUAL(p.down_until_ms, before.down_until_ms);
	CU_ASSERT_EQUAL(p.backoff_level, before.backoff_level);
	CU_ASSERT_EQUAL(p.ejections, before.ejections);
	CU_ASSERT_EQUAL(p.consecutive_failures, before.consecutive_failures);
	CU_ASSERT_EQUAL(ev.from, HEALTH_PROBING);
	CU_ASSERT_EQUAL(ev.to, HEALTH_DOWN);
	CU_ASSERT_EQUAL(ev.cause, FAIL_CLIENT_ABORT);
	/* The next request may probe at once. */
	CU_ASSERT_EQUAL(health_pick(&p, &hp, at), HEALTH_PICK_PROBE);
	CU_ASSERT_TRUE(health_claim_probe(&p, &hp, PID_B, at, NULL));
	/* Nothing to release on a peer that is not probing. */
	p = peer_down(T0);
	CU_ASSERT_FALSE(health_release_probe(&p, FAIL_CLIENT_ABORT, PID_A, at,
	    NULL));
}

static void
test_counters(void)
{
	struct store_peer	 p = peer_up();
	struct health_params	 hp = params(1);

	health_add_counters(&p, 10, 2);
	health_add_counters(&p, 5, 0);
	CU_ASSERT_EQUAL(p.requests, 15);
	CU_ASSERT_EQUAL(p.failures, 2);
	/* the state machine never touches the totals */
	health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A, T0, NULL);
	health_claim_probe(&p, &hp, PID_A, T0 + FT, NULL);
	health_on_success(&p, PID_A, T0 + FT, NULL);
	CU_ASSERT_EQUAL(p.requests, 15);
	CU_ASSERT_EQUAL(p.failures, 2);
	p.requests = UINT64_MAX - 1;
	health_add_counters(&p, 5, 0);
	CU_ASSERT_EQUAL(p.requests, UINT64_MAX);
}

static void
test_detail(void)
{
	struct store_peer	 p = peer_up();
	struct health_params	 hp = params(5);
	char			 longer[200];
	size_t			 i;
	bool			 zeroed;

	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	health_on_failure(&p, &hp, FAIL_BAD_RESPONSE, longer, PID_B, T0 + 9,
	    NULL);
	CU_ASSERT_EQUAL(strlen(p.last_failure_detail), STORE_DETAIL_MAX - 1);
	CU_ASSERT_EQUAL(strncmp(p.last_failure_detail, longer,
	    STORE_DETAIL_MAX - 1), 0);
	CU_ASSERT_EQUAL(p.last_kind, FAIL_BAD_RESPONSE);
	CU_ASSERT_EQUAL(p.last_failure_pid, PID_B);
	CU_ASSERT_EQUAL(p.last_failure_ms, T0 + 9);

	/* A shorter detail leaves no tail of the longer one. */
	health_on_failure(&p, &hp, FAIL_STATUS, "502 from upstream", PID_A,
	    T0 + 10, NULL);
	CU_ASSERT_STRING_EQUAL(p.last_failure_detail, "502 from upstream");
	zeroed = true;
	for (i = strlen("502 from upstream"); i < STORE_DETAIL_MAX; i++)
		if (p.last_failure_detail[i] != '\0')
			zeroed = false;
	CU_ASSERT_TRUE(zeroed);
	health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A, T0 + 11, NULL);
	CU_ASSERT_STRING_EQUAL(p.last_failure_detail, "");
	CU_ASSERT_EQUAL(p.last_kind, FAIL_RESET);
}

static void
test_event_contents(void)
{
	struct store_peer	 p = peer_up();
	struct health_params	 hp = params(1);
	struct store_event	 ev, poison;

	ev_poison(&ev);
	ev_poison(&poison);
	strcpy(ev.pool, "web");
	strcpy(ev.addr, "127.0.0.2:80");
	CU_ASSERT_TRUE(health_on_failure(&p, &hp, FAIL_CONNECT_TIMEOUT,
	    "connect timed out", PID_A, T0 + 42, &ev));
	CU_ASSERT_EQUAL(ev.version, STORE_LAYOUT_VERSION);
	CU_ASSERT_EQUAL(ev.from, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.to, HEALTH_DOWN);
	CU_ASSERT_EQUAL(ev.cause, FAIL_CONNECT_TIMEOUT);
	CU_ASSERT_EQUAL(ev.flags, 0);
	CU_ASSERT_EQUAL(ev.pid, PID_A);
	CU_ASSERT_EQUAL(ev.consecutive_failures, 1);
	CU_ASSERT_EQUAL(ev.at_ms, T0 + 42);
	/* the store's fields are left alone */
	CU_ASSERT_EQUAL(ev.seq, poison.seq);
	CU_ASSERT_STRING_EQUAL(ev.pool, "web");
	CU_ASSERT_STRING_EQUAL(ev.addr, "127.0.0.2:80");
	CU_ASSERT_FALSE(health_event_is_admin(&ev));

	/* NULL events are fine everywhere. */
	p = peer_up();
	CU_ASSERT_TRUE(health_on_failure(&p, &hp, FAIL_RESET, NULL, PID_A, T0,
	    NULL));
	CU_ASSERT_TRUE(health_claim_probe(&p, &hp, PID_A, T0 + FT, NULL));
	CU_ASSERT_TRUE(health_release_probe(&p, FAIL_CLIENT_ABORT, PID_A,
	    T0 + FT, NULL));
	CU_ASSERT_TRUE(health_on_success(&p, PID_A, T0 + FT, NULL));
	CU_ASSERT_TRUE(health_set_admin(&p, ADMIN_DISABLED, PID_CTL, T0, NULL));
	CU_ASSERT_FALSE(health_reset(&p, PID_CTL, T0, NULL));
}

struct format_row {
	uint8_t		 from, to, cause;
	int32_t		 pid;
	uint32_t	 streak, max_fails;
	const char	*want;
};

#define ADM(a)	(STORE_EVENT_ADMIN + (a))

static const struct format_row formats[] = {
	{ HEALTH_UP, HEALTH_DOWN, FAIL_CONNECT_TIMEOUT, 1236, 1, 1,
	    "peer web/127.0.0.2:80 up -> down (connect_timeout, 1/1, "
	    "worker 1236)" },
	{ HEALTH_DOWN, HEALTH_PROBING, FAIL_NONE, 1237, 3, 3,
	    "peer web/127.0.0.2:80 down -> probing (probe, 3/3, worker 1237)" },
	{ HEALTH_PROBING, HEALTH_PROBING, FAIL_NONE, 1238, 3, 3,
	    "peer web/127.0.0.2:80 probing -> probing (probe, 3/3, "
	    "worker 1238)" },
	{ HEALTH_PROBING, HEALTH_UP, FAIL_NONE, 1237, 0, 3,
	    "peer web/127.0.0.2:80 probing -> up (ok, 0/3, worker 1237)" },
	{ HEALTH_PROBING, HEALTH_DOWN, FAIL_READ_TIMEOUT, 1237, 4, 3,
	    "peer web/127.0.0.2:80 probing -> down (read_timeout, 4/3, "
	    "worker 1237)" },
	{ HEALTH_PROBING, HEALTH_DOWN, FAIL_CLIENT_ABORT, 1237, 1, 1,
	    "peer web/127.0.0.2:80 probing -> down (client_abort, 1/1, "
	    "worker 1237)" },
	{ HEALTH_UP, ADM(ADMIN_DRAINING), FAIL_NONE, 4242, 0, 1,
	    "peer web/127.0.0.2:80 up -> draining (admin, 0/1, pid 4242)" },
	{ ADM(ADMIN_DRAINING), ADM(ADMIN_DISABLED), FAIL_NONE, 4242, 0, 1,
	    "peer web/127.0.0.2:80 draining -> disabled (admin, 0/1, "
	    "pid 4242)" },
	{ ADM(ADMIN_DISABLED), HEALTH_DOWN, FAIL_NONE, 4242, 2, 1,
	    "peer web/127.0.0.2:80 disabled -> down (admin, 2/1, pid 4242)" },
	{ 9, ADM(7), FAIL_NONE, 1, 0, 1,
	    "peer web/127.0.0.2:80 unknown -> unknown (admin, 0/1, pid 1)" },
};

static void
test_format(void)
{
	const struct format_row	*r;
	struct store_peer	 p = peer_up();
	struct health_params	 hp = params(1);
	struct store_event	 ev;
	char			 buf[256];
	size_t			 k;

	for (k = 0; k < NITEMS(formats); k++) {
		r = &formats[k];
		memset(&ev, 0, sizeof(ev));
		strcpy(ev.pool, "web");
		strcpy(ev.addr, "127.0.0.2:80");
		ev.from = r->from;
		ev.to = r->to;
		ev.cause = r->cause;
		ev.pid = r->pid;
		ev.consecutive_failures = r->streak;
		health_event_format(&ev, r->max_fails, buf, sizeof(buf));
		if (!tap_result(strcmp(buf, r->want) == 0, "format: \"%s\"",
		    r->want)) {
			printf("#   got \"%s\"\n", buf);
			CU_FAIL("format row");
		}
	}

	/* The brief's line, from a real transition. */
	memset(&ev, 0, sizeof(ev));
	CU_ASSERT_TRUE(health_on_failure(&p, &hp, FAIL_CONNECT_TIMEOUT, NULL,
	    1236, T0, &ev));
	strcpy(ev.pool, "web");
	strcpy(ev.addr, "127.0.0.2:80");
	health_event_format(&ev, hp.max_fails, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "peer web/127.0.0.2:80 up -> down "
	    "(connect_timeout, 1/1, worker 1236)");

	/* Truncated, always terminated; len 0 writes nothing. */
	health_event_format(&ev, 1, buf, 10);
	CU_ASSERT_STRING_EQUAL(buf, "peer web/");
	buf[0] = '#';
	health_event_format(&ev, 1, buf, 0);
	CU_ASSERT_EQUAL(buf[0], '#');
	/* Unterminated names (a foreign record) are bounded by their field. */
	memset(ev.pool, 'p', sizeof(ev.pool));
	memset(ev.addr, 'a', sizeof(ev.addr));
	health_event_format(&ev, 1, buf, sizeof(buf));
	CU_ASSERT_EQUAL(strlen(buf), strlen("peer / up -> down "
	    "(connect_timeout, 1/1, worker 1236)") + STORE_NAME_MAX +
	    STORE_ADDR_MAX);
}

/* A peer in service whose connect by PID_A stalled at `at'. */
static struct store_peer
peer_suspect(uint64_t at)
{
	struct store_peer	 p = peer_up();
	struct health_params	 hp = params(1);

	health_on_connect_stall(&p, &hp, PID_A, at, NULL, NULL);
	return p;
}

static void
test_unproven(void)
{
	struct store_peer	 p = peer_fresh(), before;
	struct health_params	 hp = params(1);
	struct store_event	 ev;

	/* One connect at a time until one completes, across all workers. */
	CU_ASSERT_TRUE(health_connect_needs_write(&p, false, PID_A));
	CU_ASSERT_FALSE(health_claim_trial(&p, &hp, 0, T0));
	CU_ASSERT_TRUE(health_claim_trial(&p, &hp, PID_A, T0));
	CU_ASSERT_EQUAL(p.trial_pid, PID_A);
	CU_ASSERT_EQUAL(p.trial_started_ms, T0);
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0), HEALTH_PICK_LAST);
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + TSTALE - 1),
	    HEALTH_PICK_LAST);
	before = p;
	CU_ASSERT_FALSE(health_claim_trial(&p, &hp, PID_B, T0 + 1));
	CU_ASSERT_EQUAL(memcmp(&p, &before, sizeof(p)), 0);
	CU_ASSERT_TRUE(health_is_unproven(&p));
	CU_ASSERT_STRING_EQUAL(health_state_name(&p), "up");

	/* Its connect completes: proven, eligible, and no event. */
	ev_poison(&ev);
	CU_ASSERT_FALSE(health_on_connect(&p, true, PID_A, T0 + 2, &ev));
	CU_ASSERT_TRUE(ev_untouched(&ev));
	CU_ASSERT_EQUAL(p.proven, 1);
	CU_ASSERT_EQUAL(p.trial_pid, 0);
	CU_ASSERT_EQUAL(p.trial_started_ms, 0);
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 2), HEALTH_PICK_YES);
	CU_ASSERT_FALSE(health_is_unproven(&p));
	/* Steady state: a connect writes nothing, trial or not. */
	CU_ASSERT_FALSE(health_connect_needs_write(&p, false, PID_A));
	CU_ASSERT_FALSE(health_connect_needs_write(&p, true, PID_A));
	CU_ASSERT_FALSE(health_claim_trial(&p, &hp, PID_B, T0 + 3));

	/* A trial whose worker died goes stale; another may claim it. */
	p = peer_fresh();
	CU_ASSERT_TRUE(health_claim_trial(&p, &hp, PID_A, T0));
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + TSTALE), HEALTH_PICK_TRIAL);
	CU_ASSERT_TRUE(health_claim_trial(&p, &hp, PID_B, T0 + TSTALE));
	CU_ASSERT_EQUAL(p.trial_pid, PID_B);
	/* A clock stepped back keeps it live. */
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0), HEALTH_PICK_LAST);
	/* The old owner's end is not the new one's. */
	CU_ASSERT_FALSE(health_release_trial(&p, PID_A));
	CU_ASSERT_FALSE(health_on_connect(&p, true, PID_A, T0 + TSTALE + 1,
	    NULL));
	CU_ASSERT_EQUAL(p.trial_pid, PID_B);
	CU_ASSERT_EQUAL(p.proven, 1);	/* a connect is a connect */

	/* Released without a verdict: claimable at once. */
	p = peer_fresh();
	health_claim_trial(&p, &hp, PID_A, T0);
	CU_ASSERT_FALSE(health_release_trial(&p, 0));
	CU_ASSERT_TRUE(health_release_trial(&p, PID_A));
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 1), HEALTH_PICK_TRIAL);
	CU_ASSERT_FALSE(health_release_trial(&p, PID_A));

	/* An ejection or a reset unproves. */
	p = peer_down(T0);
	CU_ASSERT_EQUAL(p.proven, 0);
	p = peer_up();
	CU_ASSERT_FALSE(health_reset(&p, PID_CTL, T0, NULL));
	CU_ASSERT_EQUAL(p.proven, 0);
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0), HEALTH_PICK_TRIAL);
}

static void
test_suspect_mark(void)
{
	struct store_peer	 p = peer_up(), before;
	struct health_params	 hp = params(1);
	struct store_event	 ev;
	bool			 trial;

	ev_poison(&ev);
	trial = false;
	CU_ASSERT_TRUE(health_on_connect_stall(&p, &hp, PID_A, T0 + 7, &trial,
	    &ev));
	CU_ASSERT_TRUE(trial);
	CU_ASSERT_TRUE(health_is_suspect(&p));
	CU_ASSERT_EQUAL(p.suspect_since_ms, T0 + 7);
	CU_ASSERT_EQUAL(p.trial_pid, PID_A);
	CU_ASSERT_EQUAL(p.trial_started_ms, T0 + 7);
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(p.consecutive_failures, 0);
	/* The state shown is still up (DESIGN.md §5 fixes its values). */
	CU_ASSERT_STRING_EQUAL(health_state_name(&p), "up");
	CU_ASSERT_EQUAL(ev.version, STORE_LAYOUT_VERSION);
	CU_ASSERT_EQUAL(ev.from, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.to, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.cause, FAIL_CONNECT_SLOW);
	CU_ASSERT_EQUAL(ev.flags, STORE_EVENT_SUSPECT);
	CU_ASSERT_EQUAL(ev.pid, PID_A);
	CU_ASSERT_EQUAL(ev.at_ms, T0 + 7);
	CU_ASSERT_FALSE(health_event_is_admin(&ev));
	/* Passed over by every worker while its trial runs. */
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 8), HEALTH_PICK_LAST);
	CU_ASSERT_FALSE(health_claim_trial(&p, &hp, PID_B, T0 + 8));

	/* More stalls (a burst of connects): nothing new to write. */
	before = p;
	ev_poison(&ev);
	CU_ASSERT_FALSE(health_on_connect_stall(&p, &hp, PID_B, T0 + 9, &trial,
	    &ev));
	CU_ASSERT_FALSE(trial);
	CU_ASSERT_EQUAL(memcmp(&p, &before, sizeof(p)), 0);
	CU_ASSERT_TRUE(ev_untouched(&ev));

	/* Still suspect, trial free again: a stall takes it, no event. */
	CU_ASSERT_TRUE(health_release_trial(&p, PID_A));
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 10), HEALTH_PICK_TRIAL);
	ev_poison(&ev);
	CU_ASSERT_FALSE(health_on_connect_stall(&p, &hp, PID_B, T0 + 10,
	    &trial, &ev));
	CU_ASSERT_TRUE(trial);
	CU_ASSERT_EQUAL(p.trial_pid, PID_B);
	CU_ASSERT_EQUAL(p.suspect_since_ms, T0 + 7);
	CU_ASSERT_TRUE(ev_untouched(&ev));

	/* A fresh peer can be suspect too; NULLs are fine. */
	p = peer_fresh();
	CU_ASSERT_TRUE(health_on_connect_stall(&p, &hp, PID_A, T0, NULL,
	    NULL));
	CU_ASSERT_FALSE(health_is_unproven(&p));
	CU_ASSERT_TRUE(health_is_suspect(&p));
	/* pid 0 is nobody. */
	p = peer_up();
	CU_ASSERT_FALSE(health_on_connect_stall(&p, &hp, 0, T0, &trial, NULL));
	CU_ASSERT_FALSE(health_is_suspect(&p));
	/* A clock at the epoch must not read as "not suspect". */
	CU_ASSERT_TRUE(health_on_connect_stall(&p, &hp, PID_A, 0, NULL,
	    NULL));
	CU_ASSERT_TRUE(health_is_suspect(&p));
}

static void
test_suspect_cleared(void)
{
	struct store_peer	 p;
	struct health_params	 hp = params(1);
	struct store_event	 ev;

	/* Any completed connect clears it, the trial's or another's. */
	p = peer_suspect(T0);
	CU_ASSERT_TRUE(health_connect_needs_write(&p, false, PID_B));
	ev_poison(&ev);
	CU_ASSERT_TRUE(health_on_connect(&p, false, PID_B, T0 + 3, &ev));
	CU_ASSERT_FALSE(health_is_suspect(&p));
	CU_ASSERT_EQUAL(p.suspect_since_ms, 0);
	CU_ASSERT_EQUAL(p.trial_pid, 0);
	CU_ASSERT_EQUAL(ev.from, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.to, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.cause, FAIL_NONE);
	CU_ASSERT_EQUAL(ev.flags, STORE_EVENT_WAS_SUSPECT);
	CU_ASSERT_EQUAL(ev.pid, PID_B);
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 3), HEALTH_PICK_YES);
	CU_ASSERT_FALSE(health_connect_needs_write(&p, false, PID_B));

	p = peer_suspect(T0);
	CU_ASSERT_TRUE(health_on_connect(&p, true, PID_A, T0 + 3, NULL));
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 3), HEALTH_PICK_YES);

	/* A reply on a reused connection says nothing about SYNs. */
	p = peer_suspect(T0);
	CU_ASSERT_FALSE(health_success_needs_write(&p));
	CU_ASSERT_FALSE(health_on_success(&p, PID_B, T0 + 1, NULL));
	CU_ASSERT_TRUE(health_is_suspect(&p));

	/* The operator's reset ends it, with an event. */
	p = peer_suspect(T0);
	ev_poison(&ev);
	CU_ASSERT_TRUE(health_reset(&p, PID_CTL, T0 + 4, &ev));
	CU_ASSERT_FALSE(health_is_suspect(&p));
	CU_ASSERT_EQUAL(p.trial_pid, 0);
	CU_ASSERT_EQUAL(ev.from, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.to, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.flags, STORE_EVENT_WAS_SUSPECT);
	CU_ASSERT_EQUAL(ev.pid, PID_CTL);
	/* ... and leaves a first connect to go alone. */
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 4), HEALTH_PICK_TRIAL);
}

/* The trial's connect failed: what the store does in one transaction. */
static bool
trial_failed(struct store_peer *p, const struct health_params *hp,
    int32_t pid, uint64_t at, struct store_event *ev)
{
	health_release_trial(p, pid);
	return health_on_failure(p, hp, FAIL_CONNECT_TIMEOUT, "connecting",
	    pid, at, ev);
}

static void
test_suspect_to_down(void)
{
	struct store_peer	 p;
	struct health_params	 hp = params(3);
	struct store_event	 ev;
	uint64_t		 at = T0;
	int32_t			 pid;
	int			 i;

	/*
	 * max_fails 3: the stalled connect times out (1/3); each next trial
	 * is claimed by one request at a time until the third ejects.
	 */
	p = peer_suspect(at);
	for (i = 1; i <= 3; i++) {
		pid = i == 1 ? PID_A : PID_B;
		if (i > 1) {
			CU_ASSERT_EQUAL(health_pick(&p, &hp, at),
			    HEALTH_PICK_TRIAL);
			CU_ASSERT_TRUE(health_claim_trial(&p, &hp, pid, at));
			CU_ASSERT_EQUAL(health_pick(&p, &hp, at),
			    HEALTH_PICK_LAST);
		}
		at += 100;
		ev_poison(&ev);
		if (i < 3) {
			CU_ASSERT_FALSE(trial_failed(&p, &hp, pid, at, &ev));
			CU_ASSERT_TRUE(ev_untouched(&ev));
			CU_ASSERT_EQUAL(p.health, HEALTH_UP);
			CU_ASSERT_TRUE(health_is_suspect(&p));
			CU_ASSERT_EQUAL(p.trial_pid, 0);
			CU_ASSERT_EQUAL(p.consecutive_failures, (uint32_t)i);
		} else {
			CU_ASSERT_TRUE(trial_failed(&p, &hp, pid, at, &ev));
		}
	}
	/* Down supersedes suspect: the probe takes over from the trial. */
	CU_ASSERT_EQUAL(p.health, HEALTH_DOWN);
	CU_ASSERT_FALSE(health_is_suspect(&p));
	CU_ASSERT_EQUAL(p.trial_pid, 0);
	CU_ASSERT_EQUAL(p.trial_started_ms, 0);
	CU_ASSERT_EQUAL(p.proven, 0);
	CU_ASSERT_EQUAL(ev.from, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.to, HEALTH_DOWN);
	CU_ASSERT_EQUAL(ev.cause, FAIL_CONNECT_TIMEOUT);
	CU_ASSERT_EQUAL(ev.flags, STORE_EVENT_WAS_SUSPECT);
	CU_ASSERT_EQUAL(ev.consecutive_failures, 3);
	CU_ASSERT_EQUAL(health_pick(&p, &hp, at + FT), HEALTH_PICK_PROBE);

	/* Down or probing: a stalled connect (the probe's) marks nothing. */
	p = peer_down(T0);
	CU_ASSERT_FALSE(health_on_connect_stall(&p, &hp, PID_A, T0 + 1, NULL,
	    NULL));
	CU_ASSERT_FALSE(health_is_suspect(&p));
	p = peer_probing(T0);
	CU_ASSERT_FALSE(health_on_connect_stall(&p, &hp, PID_A, T0 + FT + 1,
	    NULL, NULL));
	CU_ASSERT_EQUAL(p.trial_pid, 0);
	CU_ASSERT_FALSE(health_claim_trial(&p, &hp, PID_B, T0 + FT + 2));
}

static void
test_suspect_admin(void)
{
	struct store_peer	 p = peer_suspect(T0);
	struct health_params	 hp = params(1);
	struct store_event	 ev;
	bool			 trial;

	/* Admin wins over suspicion as over health. */
	ev_poison(&ev);
	CU_ASSERT_TRUE(health_set_admin(&p, ADMIN_DRAINING, PID_CTL, T0 + 1,
	    &ev));
	CU_ASSERT_EQUAL(ev.flags, STORE_EVENT_WAS_SUSPECT |
	    STORE_EVENT_SUSPECT);
	CU_ASSERT_STRING_EQUAL(health_state_name(&p), "draining");
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 1), HEALTH_PICK_NO);
	CU_ASSERT_FALSE(health_claim_trial(&p, &hp, PID_B, T0 + TSTALE));
	/* Health moves underneath: the connect's end still counts. */
	CU_ASSERT_TRUE(health_on_connect(&p, true, PID_A, T0 + 2, NULL));
	CU_ASSERT_FALSE(health_is_suspect(&p));
	CU_ASSERT_TRUE(health_on_connect_stall(&p, &hp, PID_B, T0 + 3, &trial,
	    NULL));
	CU_ASSERT_TRUE(trial);
	/* Enabled, it is the suspect it became meanwhile. */
	CU_ASSERT_TRUE(health_set_admin(&p, ADMIN_NONE, PID_CTL, T0 + 4, &ev));
	CU_ASSERT_EQUAL(ev.to, HEALTH_UP);
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 4), HEALTH_PICK_LAST);
	CU_ASSERT_EQUAL(health_pick(&p, &hp, T0 + 3 + TSTALE),
	    HEALTH_PICK_TRIAL);
}

struct after_row {
	uint64_t	 connect_ms, avg_ms, want;
};

static const struct after_row afters[] = {
	{ 100, 0, 10 },		/* a tenth of connect_timeout */
	{ 1000, 0, 100 },
	{ 100, 2, 10 },		/* fast connects: the tenth stands */
	{ 100, 3, 12 },		/* 4 x the usual connect time */
	{ 1000, 30, 120 },
	{ 1000, 200, 500 },	/* never past half the timeout */
	{ 300, 0, 30 },
	{ 20, 0, 2 },
	{ 5, 0, 1 },		/* at least 1 ms */
	{ 2, 0, 1 },
	{ 1, 0, 1 },		/* too short to split: the timeout itself */
	{ 0, 0, 0 },
	{ UINT64_MAX, UINT64_MAX, UINT64_MAX / 2 },
	{ 1000, UINT64_MAX / 3, 500 },	/* 4 x avg saturates, no wrap */
};

static void
test_suspect_after(void)
{
	size_t		 k;
	uint64_t	 got;

	for (k = 0; k < NITEMS(afters); k++) {
		got = health_suspect_after_ms(afters[k].connect_ms,
		    afters[k].avg_ms);
		if (!tap_result(got == afters[k].want, "suspect after: connect "
		    "%" PRIu64 " ms, usual %" PRIu64 " ms -> %" PRIu64 " ms",
		    afters[k].connect_ms, afters[k].avg_ms, afters[k].want)) {
			printf("#   got %" PRIu64 "\n", got);
			CU_FAIL("suspect_after row");
		}
	}
}

static void
test_suspect_format(void)
{
	struct store_event	 ev;
	char			 buf[256];

	memset(&ev, 0, sizeof(ev));
	strcpy(ev.pool, "web");
	strcpy(ev.addr, "127.0.0.2:80");
	ev.from = ev.to = HEALTH_UP;
	ev.cause = FAIL_CONNECT_SLOW;
	ev.pid = 1236;
	ev.flags = STORE_EVENT_SUSPECT;
	health_event_format(&ev, 1, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "peer web/127.0.0.2:80 up -> suspect "
	    "(connect_slow, 0/1, worker 1236)");
	ev.cause = FAIL_NONE;
	ev.flags = STORE_EVENT_WAS_SUSPECT;
	health_event_format(&ev, 1, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "peer web/127.0.0.2:80 suspect -> up "
	    "(ok, 0/1, worker 1236)");
	/* Other transitions keep the names of the states shown. */
	ev.to = HEALTH_DOWN;
	ev.cause = FAIL_CONNECT_TIMEOUT;
	ev.consecutive_failures = 1;
	health_event_format(&ev, 1, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "peer web/127.0.0.2:80 up -> down "
	    "(connect_timeout, 1/1, worker 1236)");
	ev.from = HEALTH_UP;
	ev.to = STORE_EVENT_ADMIN + ADMIN_DRAINING;
	ev.cause = FAIL_NONE;
	ev.flags = STORE_EVENT_WAS_SUSPECT | STORE_EVENT_SUSPECT;
	ev.pid = 4242;
	health_event_format(&ev, 1, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "peer web/127.0.0.2:80 up -> draining "
	    "(admin, 1/1, pid 4242)");
}

int
main(void)
{
	CU_pSuite	 s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("health", NULL, NULL);
	CU_add_test(s, "init", test_init);
	CU_add_test(s, "thresholds", test_thresholds);
	CU_add_test(s, "down until fail_timeout, then probe",
	    test_down_until_then_probe);
	CU_add_test(s, "exactly one claimant", test_one_claimant);
	CU_add_test(s, "probe success brings it up", test_probe_success);
	CU_add_test(s, "probe failure doubles the timeout", test_probe_failure);
	CU_add_test(s, "backoff", test_backoff);
	CU_add_test(s, "success resets the streak", test_success_resets_streak);
	CU_add_test(s, "success needs a write", test_needs_write);
	CU_add_test(s, "non-blaming kinds", test_non_blaming);
	CU_add_test(s, "blaming kinds", test_blaming_kinds);
	CU_add_test(s, "admin truth table", test_admin_truth_table);
	CU_add_test(s, "admin transitions", test_admin_transitions);
	CU_add_test(s, "reset", test_reset);
	CU_add_test(s, "release probe", test_release_probe);
	CU_add_test(s, "counters", test_counters);
	CU_add_test(s, "failure detail", test_detail);
	CU_add_test(s, "event contents", test_event_contents);
	CU_add_test(s, "format", test_format);
	CU_add_test(s, "unproven: one connect at a time", test_unproven);
	CU_add_test(s, "suspect: a stalled connect marks it", test_suspect_mark);
	CU_add_test(s, "suspect: a completed connect clears it",
	    test_suspect_cleared);
	CU_add_test(s, "suspect: trials until max_fails", test_suspect_to_down);
	CU_add_test(s, "suspect: admin states win", test_suspect_admin);
	CU_add_test(s, "suspect: the threshold", test_suspect_after);
	CU_add_test(s, "suspect: transition lines", test_suspect_format);
	return tap_run_registry();
}
