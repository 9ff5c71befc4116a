/*
 * store-t.h: the record layout of the shared health store (DESIGN.md §4,
 * §5, §8), used alike by the master, the workers and shuntctl.
 *
 * Every record is flat, fixed-size and pointer-free, and starts with the
 * layout version: a process that finds another version refuses the record
 * instead of misreading it.  Peer records are keyed by pool name and peer
 * address, so a peer's health outlives reloads and respawns for as long as
 * its pool and address stay the same (as nginx's shared zones re-attach
 * the previous generation's data).
 *
 * Times are wall-clock milliseconds since the epoch (CLOCK_REALTIME):
 * every process of the machine compares them alike, and shuntctl prints
 * them as RFC 3339.
 */
#ifndef SHUNT_STORE_T_H
#define SHUNT_STORE_T_H

#include <stdint.h>

/*
 * Bump on any change to a record below: older records are then refused
 * (and replaced by the next publish), never misread.
 *   1	first layout
 *   2	peer: proven, suspicion (suspect_since_ms) and the trial
 *	connect (trial_pid, trial_started_ms); event: flags
 */
#define STORE_LAYOUT_VERSION	2

/* What the failures of a peer say (decided by health.c). */
enum health_state {
	HEALTH_UP = 0,
	HEALTH_DOWN,		/* until down_until_ms */
	HEALTH_PROBING,		/* one request, probe_pid's, is trying it */
};

/*
 * Suspicion is not a state of its own (DESIGN.md §5 fixes the states
 * shown) but a mark on an up peer: a connect to it went unanswered (its
 * SYN not acknowledged) for longer than a connect to a live peer takes.
 * A suspect peer gets one connect at a time across all workers, the
 * trial, and is chosen otherwise only when no other peer may be; a
 * completed connect clears the mark, an ejection supersedes it.  An up
 * peer not yet proven (no connect to it completed since its record was
 * made, reset, or it was ejected) likewise takes one connect at a time,
 * but is not passed over for it: it is only not piled onto before it
 * has answered once.
 *
 * What an operator said (shuntctl).  Admin state wins over health:
 *
 *	admin \ health	up		down		probing
 *	none		eligible	no (probe*)	no
 *	draining	no		no		no
 *	disabled	no		no		no
 *
 * (*) after down_until_ms, one request may claim the recovery probe.
 * The state shown by shuntctl is the admin state when set, else health.
 */
enum admin_state {
	ADMIN_NONE = 0,
	ADMIN_DRAINING,		/* no new requests */
	ADMIN_DISABLED,		/* no new requests; idle connections closed */
};

/* Limits the config is checked against (cfg.c): keys and meta slots. */
#define STORE_WORKERS_MAX	64	/* worker pid slots in store_meta */
#define STORE_NAME_MAX		64	/* pool names, with the NUL */
#define STORE_ADDR_MAX		64	/* "host:port" as configured */
#define STORE_DETAIL_MAX	96

/* One peer: key "peer/<pool>/<address>". */
struct store_peer {
	uint32_t	 version;		/* STORE_LAYOUT_VERSION */
	uint8_t		 health;		/* enum health_state */
	uint8_t		 admin;			/* enum admin_state */
	uint8_t		 last_kind;		/* enum failure_kind */
	uint8_t		 proven;		/* a connect completed since
						   made, reset or ejected */
	uint32_t	 consecutive_failures;
	uint32_t	 ejections;		/* times marked down, ever */
	uint32_t	 backoff_level;		/* ejections since last up */
	int32_t		 last_failure_pid;
	int32_t		 probe_pid;		/* 0: no probe running */
	int32_t		 trial_pid;		/* 0: no trial connect */
	uint64_t	 requests;		/* tries sent (counters) */
	uint64_t	 failures;		/* tries failed */
	uint64_t	 last_failure_ms;
	uint64_t	 down_until_ms;		/* 0 while up */
	uint64_t	 probe_started_ms;
	uint64_t	 changed_ms;		/* last state change */
	uint64_t	 suspect_since_ms;	/* 0: not suspect */
	uint64_t	 trial_started_ms;
	char		 last_failure_detail[STORE_DETAIL_MAX];
};

/* A state transition, kept in a bounded ring: key "event/<seq>". */
struct store_event {
	uint32_t	 version;
	uint8_t		 from;			/* enum health_state, or */
	uint8_t		 to;			/* 16 + enum admin_state */
	uint8_t		 cause;			/* enum failure_kind, 0: none */
	uint8_t		 flags;			/* STORE_EVENT_*SUSPECT */
	int32_t		 pid;			/* who caused it */
	uint32_t	 consecutive_failures;
	uint64_t	 seq;
	uint64_t	 at_ms;
	char		 pool[STORE_NAME_MAX];
	char		 addr[STORE_ADDR_MAX];
};

#define STORE_EVENT_ADMIN	16	/* from/to offset for admin states */
#define STORE_EVENT_WAS_SUSPECT	0x01	/* flags: suspect before the event */
#define STORE_EVENT_SUSPECT	0x02	/* flags: suspect after it */
#define STORE_EVENTS_KEPT	512

#endif /* SHUNT_STORE_T_H */
