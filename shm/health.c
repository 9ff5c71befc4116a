/*
 * health.c: the peer health state machine; see health.h.
 *
 * Every mutator first decides whether the state changes, then applies it
 * to the record and describes it in the event, so the store can write
 * both in one transaction.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "health.h"

#define HEALTH_BACKOFF_CAP_MS	(10 * 60 * 1000ULL)

static const char *const health_names[] = {
	[HEALTH_UP] = "up",
	[HEALTH_DOWN] = "down",
	[HEALTH_PROBING] = "probing",
};

static const char *const admin_names[] = {
	[ADMIN_NONE] = "enabled",
	[ADMIN_DRAINING] = "draining",
	[ADMIN_DISABLED] = "disabled",
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

static uint32_t
inc32(uint32_t v)
{
	return v == UINT32_MAX ? v : v + 1;
}

/* The state shuntctl shows, encoded as in an event's from/to. */
static uint8_t
shown(const struct store_peer *p)
{
	if (p->admin != ADMIN_NONE)
		return STORE_EVENT_ADMIN + p->admin;
	return p->health;
}

static const char *
code_name(uint8_t code)
{
	if (code >= STORE_EVENT_ADMIN) {
		code -= STORE_EVENT_ADMIN;
		return code < NITEMS(admin_names) ? admin_names[code] :
		    "unknown";
	}
	return code < NITEMS(health_names) ? health_names[code] : "unknown";
}

/* An event's flags: `was' suspect before it, and whether p is now. */
static uint8_t
suspect_flags(bool was, const struct store_peer *p)
{
	return (uint8_t)((was ? STORE_EVENT_WAS_SUSPECT : 0) |
	    (p->suspect_since_ms != 0 ? STORE_EVENT_SUSPECT : 0));
}

static void
event(struct store_event *ev, uint8_t from, uint8_t to,
    enum failure_kind cause, int32_t pid, uint64_t now_ms, uint32_t streak,
    uint8_t flags)
{
	if (ev == NULL)
		return;
	/* pool, addr and seq are the store's: leave them as they are. */
	ev->version = STORE_LAYOUT_VERSION;
	ev->from = from;
	ev->to = to;
	ev->cause = (uint8_t)cause;
	ev->flags = flags;
	ev->pid = pid;
	ev->consecutive_failures = streak;
	ev->at_ms = now_ms;
}

static void
clear_probe(struct store_peer *p)
{
	p->probe_pid = 0;
	p->probe_started_ms = 0;
}

static void
clear_trial(struct store_peer *p)
{
	p->trial_pid = 0;
	p->trial_started_ms = 0;
}

/* Suspicion ends with its trial: whatever ends it decided the question. */
static void
clear_suspect(struct store_peer *p)
{
	p->suspect_since_ms = 0;
	clear_trial(p);
}

void
health_init(struct store_peer *p)
{
	memset(p, 0, sizeof(*p));
	p->version = STORE_LAYOUT_VERSION;
	p->health = HEALTH_UP;
	p->admin = ADMIN_NONE;
}

/*
 * A probe is live while it is younger than probe_stale_ms.  Measured as
 * elapsed time rather than started + stale, which would overflow for a
 * "never stale" setting; a start in the future (the wall clock stepped
 * back) is live, so a clock step can delay a probe but never double it.
 */
static bool
probe_live(const struct store_peer *p, const struct health_params *hp,
    uint64_t now_ms)
{
	if (p->probe_pid == 0)
		return false;
	if (now_ms < p->probe_started_ms)
		return true;
	return now_ms - p->probe_started_ms < hp->probe_stale_ms;
}

/* As probe_live(), for the trial connect. */
static bool
trial_live(const struct store_peer *p, const struct health_params *hp,
    uint64_t now_ms)
{
	if (p->trial_pid == 0)
		return false;
	if (now_ms < p->trial_started_ms)
		return true;
	return now_ms - p->trial_started_ms < hp->trial_stale_ms;
}

enum health_pick
health_pick(const struct store_peer *p, const struct health_params *hp,
    uint64_t now_ms)
{
	if (p->admin != ADMIN_NONE)
		return HEALTH_PICK_NO;
	switch (p->health) {
	case HEALTH_UP:
		if (p->proven && p->suspect_since_ms == 0)
			return HEALTH_PICK_YES;
		return trial_live(p, hp, now_ms) ? HEALTH_PICK_LAST :
		    HEALTH_PICK_TRIAL;
	case HEALTH_DOWN:
	case HEALTH_PROBING:
		if (now_ms < p->down_until_ms || probe_live(p, hp, now_ms))
			return HEALTH_PICK_NO;
		return HEALTH_PICK_PROBE;
	default:
		return HEALTH_PICK_NO;
	}
}

bool
health_is_suspect(const struct store_peer *p)
{
	return p->suspect_since_ms != 0;
}

bool
health_is_unproven(const struct store_peer *p)
{
	return p->health == HEALTH_UP && !p->proven &&
	    p->suspect_since_ms == 0;
}

const char *
health_state_name(const struct store_peer *p)
{
	return code_name(shown(p));
}

uint64_t
health_down_ms(const struct health_params *hp, uint32_t level)
{
	uint64_t	 t, cap;
	uint32_t	 i;

	t = hp->fail_timeout_ms;
	cap = t > HEALTH_BACKOFF_CAP_MS ? t : HEALTH_BACKOFF_CAP_MS;
	/* Doubling stops at the cap, so neither the loop nor t can run away. */
	for (i = 1; i < level && t < cap; i++)
		t = t > cap / 2 ? cap : t * 2;
	return t;
}

bool
health_on_failure(struct store_peer *p, const struct health_params *hp,
    enum failure_kind kind, const char *detail, int32_t pid, uint64_t now_ms,
    struct store_event *ev)
{
	uint32_t	 max_fails;
	uint8_t		 from;
	bool		 eject, was;
	size_t		 n;

	if (!failure_blames_peer(kind))
		return false;

	/* The config validator enforces >= 1; 0 must not mean "never". */
	max_fails = hp->max_fails > 0 ? hp->max_fails : 1;
	from = p->health;
	switch (p->health) {
	case HEALTH_UP:
		eject = inc32(p->consecutive_failures) >= max_fails;
		break;
	case HEALTH_PROBING:
		/*
		 * The probe failed, or a request older than the ejection did
		 * while the probe ran: either way the peer just failed, so
		 * it goes back down rather than waiting on the probe.
		 */
		eject = true;
		break;
	default:
		/* Down already: a request in flight before the ejection. */
		eject = false;
		break;
	}

	p->consecutive_failures = inc32(p->consecutive_failures);
	p->last_kind = (uint8_t)kind;
	p->last_failure_ms = now_ms;
	p->last_failure_pid = pid;
	/* Zero the whole field: the record is written and compared raw. */
	memset(p->last_failure_detail, 0, sizeof(p->last_failure_detail));
	if (detail != NULL) {
		n = strnlen(detail, sizeof(p->last_failure_detail) - 1);
		memcpy(p->last_failure_detail, detail, n);
	}
	if (!eject)
		return false;

	was = p->suspect_since_ms != 0;
	p->health = HEALTH_DOWN;
	p->ejections = inc32(p->ejections);
	p->backoff_level = inc32(p->backoff_level);
	p->down_until_ms = add_sat_u64(now_ms, health_down_ms(hp, p->backoff_level));
	clear_probe(p);
	/* Down says more than suspect; the probe takes over from the trial. */
	clear_suspect(p);
	p->proven = 0;
	p->changed_ms = now_ms;
	event(ev, from, HEALTH_DOWN, kind, pid, now_ms,
	    p->consecutive_failures, suspect_flags(was, p));
	return true;
}

bool
health_success_needs_write(const struct store_peer *p)
{
	return p->health != HEALTH_UP || p->consecutive_failures != 0;
}

/* Up again: what health_on_success() and health_reset() share. */
static bool
bring_up(struct store_peer *p, int32_t pid, uint64_t now_ms,
    struct store_event *ev)
{
	uint8_t	 from;

	from = p->health;
	p->consecutive_failures = 0;
	if (from == HEALTH_UP)
		return false;
	p->health = HEALTH_UP;
	p->backoff_level = 0;
	p->down_until_ms = 0;
	clear_probe(p);
	p->changed_ms = now_ms;
	event(ev, from, HEALTH_UP, FAIL_NONE, pid, now_ms, 0,
	    suspect_flags(p->suspect_since_ms != 0, p));
	return true;
}

bool
health_on_success(struct store_peer *p, int32_t pid, uint64_t now_ms,
    struct store_event *ev)
{
	return bring_up(p, pid, now_ms, ev);
}

bool
health_reset(struct store_peer *p, int32_t pid, uint64_t now_ms,
    struct store_event *ev)
{
	bool	 changed, was;

	was = p->suspect_since_ms != 0;
	changed = bring_up(p, pid, now_ms, ev);
	/* An up peer never holds these; clear them should a record disagree. */
	p->backoff_level = 0;
	p->down_until_ms = 0;
	clear_probe(p);
	clear_suspect(p);
	/* Whatever was repaired, its first connect goes alone. */
	p->proven = 0;
	if (changed) {
		if (ev != NULL)
			ev->flags = suspect_flags(was, p);
		return true;
	}
	if (!was)
		return false;
	/* Up already, but the operator's word ends the suspicion too. */
	event(ev, HEALTH_UP, HEALTH_UP, FAIL_NONE, pid, now_ms, 0,
	    suspect_flags(was, p));
	return true;
}

bool
health_claim_probe(struct store_peer *p, const struct health_params *hp,
    int32_t pid, uint64_t now_ms, struct store_event *ev)
{
	uint8_t	 from;

	/* pid 0 means "no probe": it must never own one. */
	if (pid <= 0 || health_pick(p, hp, now_ms) != HEALTH_PICK_PROBE)
		return false;
	from = p->health;
	p->health = HEALTH_PROBING;
	p->probe_pid = pid;
	p->probe_started_ms = now_ms;
	p->changed_ms = now_ms;
	event(ev, from, HEALTH_PROBING, FAIL_NONE, pid, now_ms,
	    p->consecutive_failures, suspect_flags(false, p));
	return true;
}

bool
health_release_probe(struct store_peer *p, enum failure_kind kind,
    int32_t pid, uint64_t now_ms, struct store_event *ev)
{
	if (p->health != HEALTH_PROBING || pid <= 0 || p->probe_pid != pid)
		return false;
	/* down_until_ms has passed: the next request may claim at once. */
	p->health = HEALTH_DOWN;
	clear_probe(p);
	p->changed_ms = now_ms;
	event(ev, HEALTH_PROBING, HEALTH_DOWN, kind, pid, now_ms,
	    p->consecutive_failures, suspect_flags(false, p));
	return true;
}

bool
health_set_admin(struct store_peer *p, enum admin_state a, int32_t pid,
    uint64_t now_ms, struct store_event *ev)
{
	uint8_t	 from;

	if ((unsigned)a >= NITEMS(admin_names) || p->admin == a)
		return false;
	from = shown(p);
	p->admin = (uint8_t)a;
	p->changed_ms = now_ms;
	event(ev, from, shown(p), FAIL_NONE, pid, now_ms,
	    p->consecutive_failures, suspect_flags(p->suspect_since_ms != 0,
	    p));
	return true;
}

bool
health_on_connect_stall(struct store_peer *p, const struct health_params *hp,
    int32_t pid, uint64_t now_ms, bool *trial, struct store_event *ev)
{
	bool	 began = false;

	if (trial != NULL)
		*trial = false;
	/* Down or probing: no new connects go there but the probe's. */
	if (p->health != HEALTH_UP || pid <= 0)
		return false;
	if (p->suspect_since_ms == 0) {
		/* 0 means "not suspect": a clock at the epoch must not. */
		p->suspect_since_ms = now_ms > 0 ? now_ms : 1;
		began = true;
	}
	/*
	 * The connect that raised the doubt is the best trial there is:
	 * it has waited longest, and it goes on to its end regardless.
	 */
	if (!trial_live(p, hp, now_ms)) {
		p->trial_pid = pid;
		p->trial_started_ms = now_ms;
		if (trial != NULL)
			*trial = true;
	}
	if (began)
		event(ev, HEALTH_UP, HEALTH_UP, FAIL_CONNECT_SLOW, pid, now_ms,
		    p->consecutive_failures, suspect_flags(false, p));
	return began;
}

bool
health_connect_needs_write(const struct store_peer *p, bool trial,
    int32_t pid)
{
	return !p->proven || p->suspect_since_ms != 0 ||
	    (trial && pid > 0 && p->trial_pid == pid);
}

bool
health_on_connect(struct store_peer *p, bool trial, int32_t pid,
    uint64_t now_ms, struct store_event *ev)
{
	if (trial && pid > 0 && p->trial_pid == pid)
		clear_trial(p);
	/* Down or not: it answered a SYN, which is all proven claims. */
	p->proven = 1;
	if (p->suspect_since_ms == 0)
		return false;
	/* Another's trial may be under way: its end changes nothing now. */
	clear_suspect(p);
	event(ev, p->health, p->health, FAIL_NONE, pid, now_ms,
	    p->consecutive_failures, STORE_EVENT_WAS_SUSPECT);
	return true;
}

bool
health_claim_trial(struct store_peer *p, const struct health_params *hp,
    int32_t pid, uint64_t now_ms)
{
	if (pid <= 0 || health_pick(p, hp, now_ms) != HEALTH_PICK_TRIAL)
		return false;
	p->trial_pid = pid;
	p->trial_started_ms = now_ms;
	return true;
}

bool
health_release_trial(struct store_peer *p, int32_t pid)
{
	if (pid <= 0 || p->trial_pid != pid)
		return false;
	clear_trial(p);
	return true;
}

uint64_t
health_suspect_after_ms(uint64_t connect_ms, uint64_t avg_ms)
{
	uint64_t	 t;

	if (connect_ms < 2)
		return connect_ms;
	t = connect_ms / 10;
	/* Saturating 4 * avg: a wild average must not wrap to "soon". */
	if (avg_ms > t / 4)
		t = avg_ms > UINT64_MAX / 4 ? UINT64_MAX : avg_ms * 4;
	if (t > connect_ms / 2)
		t = connect_ms / 2;
	return t > 0 ? t : 1;
}

void
health_add_counters(struct store_peer *p, uint64_t requests,
    uint64_t failures)
{
	p->requests = add_sat_u64(p->requests, requests);
	p->failures = add_sat_u64(p->failures, failures);
}

bool
health_event_is_admin(const struct store_event *ev)
{
	return ev->from >= STORE_EVENT_ADMIN || ev->to >= STORE_EVENT_ADMIN;
}

void
health_event_format(const struct store_event *ev, uint32_t max_fails,
    char *buf, size_t len)
{
	const char	*cause, *from, *to;
	bool		 admin;

	if (len == 0)
		return;
	admin = health_event_is_admin(ev);
	from = code_name(ev->from);
	to = code_name(ev->to);
	/* Suspicion alone: name it, since "up -> up" would say nothing. */
	if (!admin && ev->from == HEALTH_UP && ev->to == HEALTH_UP) {
		if (ev->flags & STORE_EVENT_WAS_SUSPECT)
			from = "suspect";
		if (ev->flags & STORE_EVENT_SUSPECT)
			to = "suspect";
	}
	if (ev->cause != FAIL_NONE)
		cause = failure_name(ev->cause);
	else if (admin)
		cause = "admin";
	else if (ev->to == HEALTH_PROBING)
		cause = "probe";
	else
		cause = "ok";
	/* Bounded: the event may come from a record we did not write. */
	snprintf(buf, len, "peer %.*s/%.*s %s -> %s (%s, %u/%u, %s %d)",
	    (int)strnlen(ev->pool, sizeof(ev->pool)), ev->pool,
	    (int)strnlen(ev->addr, sizeof(ev->addr)), ev->addr,
	    from, to, cause,
	    ev->consecutive_failures, max_fails, admin ? "pid" : "worker",
	    (int)ev->pid);
}
