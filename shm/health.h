/*
 * health.h: the peer health state machine (DESIGN.md §4.6, §4.7).
 *
 * Pure functions over one struct store_peer (store-t.h): they decide
 * whether an outcome changes a peer's state and apply it to the record in
 * place; only the store writes the record, inside one short write
 * transaction that also appends the event they describe.  Nothing here
 * does I/O, allocates, reads a clock or a pid: the caller passes `now_ms'
 * (wall-clock milliseconds, as every time in store-t.h) and `pid'.  The
 * read-only functions (health_pick(), health_state_name(),
 * health_success_needs_write()) are meant for the request path.
 *
 * Health states (enum health_state) and what moves them:
 *
 *	from	  event				   to
 *	up	  failure, streak reaches max_fails   down (ejection)
 *	up	  failure, streak below max_fails     up (streak + 1)
 *	down	  failure (a request in flight	      down (streak + 1,
 *		  before the ejection)		      no new ejection)
 *	down	  health_claim_probe() after	      probing
 *		  down_until_ms
 *	probing	  failure (the probe failed)	      down, next backoff level
 *	probing	  health_release_probe() by the       down (claimable again)
 *		  prober, no verdict
 *	probing	  claim of a stale probe	      probing (new owner)
 *	down,	  success			      up, backoff 0
 *	probing
 *	any	  health_reset()		      up, backoff 0
 *
 * Admin state (enum admin_state) is separate and wins over health, as in
 * the truth table of store-t.h; health keeps moving underneath it, so
 * "enable" shows whatever health the peer has reached meanwhile.
 *
 * Down time grows with repeated ejections: the n-th ejection since the
 * peer was last up keeps it down for
 *
 *	min(fail_timeout * 2^(n - 1), max(fail_timeout, 10 minutes))
 *
 * Events (struct store_event).  A function that changes a state fills
 * *ev, when ev is not NULL, with version, from, to, cause, pid, at_ms and
 * consecutive_failures (the streak after the change); it never touches
 * pool, addr or seq, which are the store's to fill.  When no state
 * changes, *ev is left alone.  `from' and `to' encode:
 *
 *   - a health transition: both are enum health_state values (< 16),
 *     whatever the admin state;
 *   - an admin transition: the state shuntctl showed before and after,
 *     each either STORE_EVENT_ADMIN + enum admin_state when an admin state
 *     was set, or the health state when none was ("up -> draining",
 *     "draining -> disabled", "disabled -> down").  At least one side is
 *     >= STORE_EVENT_ADMIN, which is how a reader tells the two apart
 *     (health_event_is_admin()).
 *
 * `cause' is the failure kind of an ejection, or why a probe was
 * released (health_release_probe()); FAIL_NONE otherwise.
 *
 * Return values.  The mutators return true when the STATE (health or
 * admin) changed, i.e. when an event is due.  Whether the RECORD changed,
 * and so needs writing, is a different question:
 *   health_on_failure()	record changed iff failure_blames_peer(kind)
 *   health_on_success()	iff health_success_needs_write() said so before
 *   health_claim_probe(),
 *   health_release_probe(),
 *   health_set_admin()		iff they return true
 *   health_reset()		write it always (an operator command, rare)
 *
 * Caveats: records of another layout version must be refused by the
 * store before they get here; these functions trust `version'.  A wall
 * clock that steps back delays a recovery probe by the step, never lets
 * two probes run: see health_pick().
 */
#ifndef SHUNT_HEALTH_H
#define SHUNT_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "failure.h"
#include "store-t.h"

/* The pool's health config (cfg_pool's health object), in milliseconds. */
struct health_params {
	uint32_t	 max_fails;		/* >= 1; 0 is taken as 1 */
	uint64_t	 fail_timeout_ms;
	/*
	 * A probe older than this is abandoned (its owner died or hung) and
	 * may be claimed by another request: at least the pool's longest
	 * try (connect + read timeouts), so a slow live probe is not doubled.
	 */
	uint64_t	 probe_stale_ms;
};

enum health_pick {
	HEALTH_PICK_NO = 0,
	HEALTH_PICK_YES,
	HEALTH_PICK_PROBE,		/* yes, if health_claim_probe() wins */
};

/* A new peer record: layout version set, up, no admin state, all zero. */
void	 health_init(struct store_peer *p);

/*
 * May a request use this peer at `now_ms'?
 *   HEALTH_PICK_YES	up, and no admin state;
 *   HEALTH_PICK_PROBE	down or probing, down_until_ms reached, no admin
 *			state and no live probe (probe_pid 0, or started
 *			probe_stale_ms or more ago): the caller must win
 *			health_claim_probe() on the current record in a
 *			write transaction before sending anything;
 *   HEALTH_PICK_NO	otherwise.
 * A probe that started after `now_ms' (the clock stepped back) counts
 * as live.  No allocation, no syscall.
 */
enum health_pick health_pick(const struct store_peer *p,
	    const struct health_params *hp, uint64_t now_ms);

/*
 * The state shuntctl shows: the admin state when one is set ("draining",
 * "disabled"), else the health state ("up", "down", "probing");
 * "unknown" for a value outside the enums.  A static string.
 */
const char	*health_state_name(const struct store_peer *p);

/*
 * A try to this peer failed with `kind'.  A kind that blames the peer
 * (failure_blames_peer()) adds one to consecutive_failures and records
 * last_kind, last_failure_ms, last_failure_pid and last_failure_detail
 * (`detail' copied, truncated to STORE_DETAIL_MAX - 1 bytes, the rest of
 * the field zeroed; NULL records ""); then an up peer whose streak reached
 * max_fails, or a probing peer (its probe failed), is ejected: down until
 * now_ms + health_down_ms() of the next backoff level, ejections and
 * backoff_level + 1, probe cleared.  A peer already down only records
 * the failure.  Other kinds (FAIL_NONE, FAIL_STALE, FAIL_CLIENT_ABORT,
 * out of range) change nothing.
 *
 * The `requests' and `failures' totals are NOT changed here: the worker
 * batches them and adds them with health_add_counters().
 *
 * Returns true on an ejection (event up/probing -> down, cause `kind').
 */
bool	 health_on_failure(struct store_peer *p,
	    const struct health_params *hp, enum failure_kind kind,
	    const char *detail, int32_t pid, uint64_t now_ms,
	    struct store_event *ev);

/*
 * A try to this peer succeeded.  The streak goes back to 0; a down or
 * probing peer comes up (backoff_level and down_until_ms 0, probe
 * cleared): true, event down/probing -> up.  An up peer only loses its
 * streak: false.  Any success counts, the probe's or that of a request
 * that was in flight before the ejection: the peer answered.
 */
bool	 health_on_success(struct store_peer *p, int32_t pid,
	    uint64_t now_ms, struct store_event *ev);

/*
 * Claim the recovery probe for `pid' (> 0).  Only when health_pick()
 * says HEALTH_PICK_PROBE on this very record: then the peer is probing,
 * probe_pid = pid, probe_started_ms = now_ms, and true: this pid owns the
 * probe (event down -> probing, or probing -> probing when a stale probe
 * is taken over).  Otherwise false and the record is unchanged.  Called
 * in the write transaction that re-read the record, it lets exactly one
 * request across all workers win.
 */
bool	 health_claim_probe(struct store_peer *p,
	    const struct health_params *hp, int32_t pid, uint64_t now_ms,
	    struct store_event *ev);

/*
 * The probe owned by `pid' ended without a verdict on the peer (the
 * client went away, FAIL_CLIENT_ABORT; or the proxy gave it up): back to
 * down with down_until_ms unchanged (already passed), probe cleared, so
 * the next request may claim it at once instead of waiting
 * probe_stale_ms.  True, event probing -> down with cause `kind'.  False,
 * nothing changed, when the peer is not probing or `pid' does not own the
 * probe (it went stale and was claimed by another).
 */
bool	 health_release_probe(struct store_peer *p, enum failure_kind kind,
	    int32_t pid, uint64_t now_ms, struct store_event *ev);

/*
 * shuntctl drain / disable / enable: set the admin state to `a'
 * (ADMIN_NONE is "enable").  True, with an admin event (see above), when
 * it changed; false when it already was `a' or `a' is not an
 * enum admin_state.  Health is untouched.
 */
bool	 health_set_admin(struct store_peer *p, enum admin_state a,
	    int32_t pid, uint64_t now_ms, struct store_event *ev);

/*
 * shuntctl reset: health up, streak 0, backoff_level 0, down_until_ms 0,
 * probe cleared.  Kept: the admin state, the totals (requests, failures,
 * ejections) and the last failure, which is history.  True, event
 * down/probing -> up, when the health state changed; false when the peer
 * was up already (its streak may still have been cleared: write anyway).
 */
bool	 health_reset(struct store_peer *p, int32_t pid, uint64_t now_ms,
	    struct store_event *ev);

/* Add a worker's batched totals (tries sent, tries failed); saturates. */
void	 health_add_counters(struct store_peer *p, uint64_t requests,
	    uint64_t failures);

/*
 * Does a success need a write to this record at all?  False for a peer
 * that is up with streak 0, which is every success in steady state: the
 * request path never writes per successful request.
 */
bool	 health_success_needs_write(const struct store_peer *p);

/*
 * How long the `level'-th ejection since the peer was last up keeps it
 * down (level 0 is taken as 1), per the formula above; never overflows.
 */
uint64_t health_down_ms(const struct health_params *hp, uint32_t level);

/* Is this event an admin transition (see the encoding above)? */
bool	 health_event_is_admin(const struct store_event *ev);

/*
 * The event as one line in the fixed form of every transition log:
 *
 *   peer web/10.0.0.2:80 up -> down (connect_timeout, 1/1, worker 1236)
 *
 * "<streak>/<max_fails>" is the event's consecutive_failures over the
 * pool's `max_fails'.  The cause is the failure kind's name, or, without
 * one, "probe" (to probing), "admin" (admin transitions, whose pid is
 * shuntctl's and so is printed as "pid N"), else "ok".  Always
 * NUL-terminated in `buf' (truncated to len - 1 bytes); nothing is
 * written when len is 0.
 */
void	 health_event_format(const struct store_event *ev, uint32_t max_fails,
	    char *buf, size_t len);

#endif /* SHUNT_HEALTH_H */
