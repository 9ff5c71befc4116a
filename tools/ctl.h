/*
 * ctl.h: shuntctl's module map.  shuntctl.c parses the command line and
 * finds the store; every command works on one snapshot of it (ctl_snap.c)
 * and prints what DESIGN.md §2 and §5 promise.
 *
 * Every command function returns the process exit status: 0 done, 1 a
 * runtime error already reported on stderr ("shuntctl: ..." naming what
 * was looked for).  Usage errors (2) are shuntctl.c's alone.
 */
#ifndef SHUNT_CTL_H
#define SHUNT_CTL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "store.h"

/* "2026-11-23T19:30:00Z" and its NUL. */
#define CTL_TIME_MAX	32

/* What the command line asked for, once parsed. */
struct ctl_args {
	const char	*dir;		/* state_dir */
	const char	*store;		/* dir/data.mdb, for messages */
	const char	*pool;		/* NULL: none given */
	const char	*addr;
	bool		 pretty;	/* status --pretty */
	bool		 table;		/* status --table */
	size_t		 events_n;	/* events -n N */
};

/*
 * Everything a command shows, read from the store: the meta, the
 * directory in config order and, parallel to it, each peer's record
 * (have[i] false when a reload removed it between the reads).
 */
struct ctl_snap {
	struct store_meta	 meta;
	bool			 master_running;
	uint64_t		 now_ms;	/* when the snapshot was taken */
	struct store_dir_entry	*dir;
	struct store_peer	*peers;
	bool			*have;
	size_t			 n;
};

/* ctl_snap.c */

/*
 * Open the store in a->dir (flags as store_open(): STORE_RDONLY for the
 * readers, 0 for admin commands).  Returns the handle, or NULL after
 * saying why on stderr.
 */
struct store	*ctl_store_open(const struct ctl_args *a, int flags);

/*
 * Read meta, directory and every peer record into *snap (zeroed first).
 * Returns 0, or -1 after saying why on stderr (no pools published yet,
 * an LMDB error).  Free it with ctl_snap_free() either way.
 */
int		 ctl_snap_load(struct store *s, const struct ctl_args *a,
		    struct ctl_snap *snap);
void		 ctl_snap_free(struct ctl_snap *snap);

/*
 * Names against the store's directory: -1 after naming the missing pool
 * (or the pool's missing peer, when addr is not NULL) on stderr.
 */
int		 ctl_snap_check(const struct ctl_snap *snap,
		    const struct ctl_args *a, const char *pool,
		    const char *addr);

/* Wall-clock milliseconds since the epoch, as the store's times. */
uint64_t	 ctl_now_ms(void);

/* RFC 3339 UTC, to the second, into buf (CTL_TIME_MAX bytes). */
const char	*ctl_time(uint64_t ms, char *buf);

/* Is this pid alive (kill 0, EPERM counting as alive)? */
bool		 ctl_pid_alive(int32_t pid);

/*
 * The state names of an event's from/to code, of a record's health
 * alone, of its admin state alone ("none" without one).  Static strings.
 */
const char	*ctl_code_name(uint8_t code);
const char	*ctl_health_name(const struct store_peer *p);
const char	*ctl_admin_name(const struct store_peer *p);

/*
 * A JSON string of the fixed-size field s (at most max bytes, NUL or
 * not); bytes that are not valid UTF-8 become '?'.  NULL on ENOMEM.
 */
json_t		*ctl_json_str(const char *s, size_t max);

/*
 * Print j on stdout, compact on one line or indented, and a newline.
 * Returns 0 or -1 (ENOMEM, said on stderr).  Does not free j.
 */
int		 ctl_json_print(const json_t *j, bool pretty);

/* ctl_status.c */
int		 ctl_status(const struct ctl_args *a);

/* ctl_events.c */
int		 ctl_events(const struct ctl_args *a);

/* ctl_metrics.c */
int		 ctl_metrics(const struct ctl_args *a);

/* ctl_admin.c: drain, enable, disable, reset. */
int		 ctl_drain(const struct ctl_args *a);
int		 ctl_enable(const struct ctl_args *a);
int		 ctl_disable(const struct ctl_args *a);
int		 ctl_reset(const struct ctl_args *a);

#endif /* SHUNT_CTL_H */
