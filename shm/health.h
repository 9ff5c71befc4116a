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
 * health_success_needs_write(), health_connect_needs_write(),
 * health_suspect_after_ms()) are meant for the request path.
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
 * A peer starts up but not proven; its first completed connect proves
 * it (health_on_connect()), an ejection or health_reset() makes it
 * unproven again.  Until then, as while it is suspect, it takes one
 * connect at a time across all workers (the trial).
 *
 * Suspicion (store-t.h) marks an up peer without changing its state:
 *
 *	suspect	  event				   suspect
 *	no	  health_on_connect_stall()	   yes, and the stalled
 *						   connect is the trial
 *	yes	  health_on_connect_stall()	   yes (takes the trial if
 *						   none is live)
 *	yes	  health_claim_trial()		   yes, trial claimed
 *	yes	  health_on_connect()		   no, trial ended
 *	yes	  failure below max_fails	   yes (the store ends the
 *						   trial that failed)
 *	yes	  ejection, health_reset()	   no, trial cleared
 *	yes	  success of a request		   yes: a reply on a reused
 *						   connection says nothing
 *						   about new connects
 *
 * The request path pays for suspicion only when a connect is slow: a
 * peer is marked by the first connect of any worker whose SYN went
 * unanswered for health_suspect_after_ms(), and from then on every
 * worker sends it one connect at a time (the trial) until a connect
 * completes or max_fails connects have failed.
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
 * released (health_release_probe()), FAIL_CONNECT_SLOW for the start of
 * suspicion; FAIL_NONE otherwise.  `flags' has STORE_EVENT_WAS_SUSPECT
 * when the peer was suspect before the event, STORE_EVENT_SUSPECT when
 * it is after.
 *
 * Return values.  The mutators return true when the STATE (health or
 * admin) changed, i.e. when an event is due.  Whether the RECORD changed,
 * and so needs writing, is a different question:
 *   health_on_failure()	record changed iff failure_blames_peer(kind)
 *   health_on_success()	iff health_success_needs_write() said so before
 *   health_claim_probe(),
 *   health_release_probe(),
 *   health_claim_trial(),
 *   health_release_trial(),
 *   health_set_admin()		iff they return true
 *   health_on_connect_stall()	iff true or it handed out the trial
 *   health_on_connect()	iff health_connect_needs_write() said so
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
	/*
	 * Likewise for a trial connect, which lasts at most a connect
	 * timeout: at least the pool's longest one.
	 */
	uint64_t	 trial_stale_ms;
};

enum health_pick {
	HEALTH_PICK_NO = 0,
	HEALTH_PICK_YES,
	HEALTH_PICK_PROBE,		/* yes, if health_claim_probe() wins */
	HEALTH_PICK_TRIAL,		/* yes, if health_claim_trial() wins */
	HEALTH_PICK_LAST,		/* only if no other peer may be used */
};

/* A new peer record: layout version set, up, no admin state, all zero. */
void	 health_init(struct store_peer *p);

/*
 * May a request use this peer at `now_ms'?
 *   HEALTH_PICK_YES	up, proven, not suspect, and no admin state;
 *   HEALTH_PICK_PROBE	down or probing, down_until_ms reached, no admin
 *			state and no live probe (probe_pid 0, or started
 *			probe_stale_ms or more ago): the caller must win
 *			health_claim_probe() on the current record in a
 *			write transaction before sending anything;
 *   HEALTH_PICK_TRIAL	up and suspect or not proven, no admin state,
 *			no live trial (trial_pid 0, or started
 *			trial_stale_ms or more ago): the caller must win
 *			health_claim_trial() likewise, and then connect
 *			afresh;
 *   HEALTH_PICK_LAST	up and suspect or not proven, no admin state, a
 *			live trial: use it only when no other peer may be
 *			used;
 *   HEALTH_PICK_NO	otherwise.
 * A probe or trial that started after `now_ms' (the clock stepped back)
 * counts as live.  No allocation, no syscall.
 */
enum health_pick health_pick(const struct store_peer *p,
	    const struct health_params *hp, uint64_t now_ms);

/* Is the peer suspect (see above)? */
bool	 health_is_suspect(const struct store_peer *p);

/*
 * Is the peer's trial connect due only because no connect to it has
 * completed yet (up, not proven, not suspect)?  Such a peer is balanced
 * as usual; only its trial is claimed when the balancer picks it.
 */
bool	 health_is_unproven(const struct store_peer *p);

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
 * backoff_level + 1, probe, suspicion, trial and proven cleared.  A
 * peer already down only records
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
 * probe, suspicion, trial and proven cleared.  Kept: the admin state,
 * the totals
 * (requests, failures, ejections) and the last failure, which is
 * history.  True, event down/probing -> up, when the health state
 * changed, or up -> up with STORE_EVENT_WAS_SUSPECT when only suspicion
 * ended; false when the peer was up and not suspect already (its streak
 * may still have been cleared: write anyway).
 */
bool	 health_reset(struct store_peer *p, int32_t pid, uint64_t now_ms,
	    struct store_event *ev);

/*
 * A connect to this peer by `pid' has seen no answer to its SYN for
 * health_suspect_after_ms().  An up peer (whatever its admin state)
 * that is not suspect becomes suspect since now_ms: true, event up -> up
 * with flags STORE_EVENT_SUSPECT and cause FAIL_CONNECT_SLOW.  An up
 * peer without a live trial also hands the trial to this connect
 * (trial_pid = pid, trial_started_ms = now_ms) and sets *trial, when
 * trial is not NULL: the caller must end it with health_on_connect() or
 * a failure that releases it.  A down or probing peer changes nothing.
 * The record changed iff it returns true or *trial was set.
 */
bool	 health_on_connect_stall(struct store_peer *p,
	    const struct health_params *hp, int32_t pid, uint64_t now_ms,
	    bool *trial, struct store_event *ev);

/*
 * A connect to this peer completed: the peer answers SYNs.  It is
 * proven (whatever its health: a probe's connect counts); a suspect peer
 * is no longer: true, event up -> up with
 * flags STORE_EVENT_WAS_SUSPECT (cause FAIL_NONE).  With `trial', the
 * trial owned by `pid' ends too.  The record changed iff
 * health_connect_needs_write() said so before.
 */
bool	 health_on_connect(struct store_peer *p, bool trial, int32_t pid,
	    uint64_t now_ms, struct store_event *ev);

/*
 * Does a completed connect need a write to this record?  Only for a
 * peer not proven or suspect, or to end a trial (`trial') that `pid'
 * owns: never in steady state.
 */
bool	 health_connect_needs_write(const struct store_peer *p, bool trial,
	    int32_t pid);

/*
 * Claim the trial connect to a suspect peer for `pid' (> 0): only when
 * health_pick() says HEALTH_PICK_TRIAL on this very record.  True, and
 * trial_pid = pid, trial_started_ms = now_ms; false and unchanged
 * otherwise.  Not a state change: no event.
 */
bool	 health_claim_trial(struct store_peer *p,
	    const struct health_params *hp, int32_t pid, uint64_t now_ms);

/*
 * The trial connect owned by `pid' ended without a completed connect
 * (it failed, or was given up unfinished): the next request may claim
 * it at once.  True when it was pid's and is cleared; no event.
 */
bool	 health_release_trial(struct store_peer *p, int32_t pid);

/*
 * How long a connect may wait for the answer to its SYN before the peer
 * is suspect: a tenth of the connect timeout, or four times avg_ms (the
 * time the caller's connects to the peer usually take, 0 when unknown)
 * when that is longer, so a distant peer is not suspected for its
 * distance; but at most half the connect timeout and at least 1 ms.
 * A timeout too short to split (under 2 ms) returns connect_ms: no
 * suspicion before it.
 */
uint64_t health_suspect_after_ms(uint64_t connect_ms, uint64_t avg_ms);

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
 * An event that only sets or clears suspicion (health up on both sides)
 * reads "up -> suspect" or "suspect -> up"; every other keeps the names
 * of the states shown.
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
