/*
 * ctl_status.c: shuntctl status, the status JSON of DESIGN.md §5 (or a
 * table for people).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define CTL_STATUS_VERSION	1

/* JSON integers are signed 64-bit in jansson: saturate, never wrap. */
static json_int_t
ctl_int(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX :
	    (json_int_t)v;
}

static json_t *
ctl_json_time(uint64_t ms)
{
	char	 t[CTL_TIME_MAX];

	return json_string(ctl_time(ms, t));
}

static json_t *
ctl_status_peer(const struct store_dir_entry *d, const struct store_peer *p)
{
	json_t	*last = NULL, *until = NULL, *probe = NULL, *since, *trial;

	if (p->last_failure_ms != 0)
		last = json_pack("{s:o, s:s, s:i, s:o}",
		    "at", ctl_json_time(p->last_failure_ms),
		    "kind", failure_name(p->last_kind),
		    "worker_pid", (int)p->last_failure_pid,
		    "detail", ctl_json_str(p->last_failure_detail,
		    sizeof(p->last_failure_detail)));
	else
		last = json_null();
	if (p->down_until_ms != 0 && p->health != HEALTH_UP)
		until = ctl_json_time(p->down_until_ms);
	else
		until = json_null();
	if (p->probe_pid != 0)
		probe = json_pack("{s:i, s:o}",
		    "worker_pid", (int)p->probe_pid,
		    "since", ctl_json_time(p->probe_started_ms));
	else
		probe = json_null();
	/* Suspicion marks a state, it is not one: §5's states stay five. */
	if (health_is_suspect(p))
		since = ctl_json_time(p->suspect_since_ms);
	else
		since = json_null();
	if (p->trial_pid != 0)
		trial = json_pack("{s:i, s:o}",
		    "worker_pid", (int)p->trial_pid,
		    "since", ctl_json_time(p->trial_started_ms));
	else
		trial = json_null();
	/* The minimum keys of §5 first, in its order; then ours. */
	return json_pack("{s:o, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, "
	    "s:o, s:o, s:o, s:b, s:o, s:o}",
	    "address", ctl_json_str(d->addr, sizeof(d->addr)),
	    "state", health_state_name(p),
	    "health", ctl_health_name(p),
	    "admin", ctl_admin_name(p),
	    "backup", (d->flags & STORE_DIR_BACKUP) != 0,
	    "weight", (json_int_t)d->weight,
	    "consecutive_failures", (json_int_t)p->consecutive_failures,
	    "failures", ctl_int(p->failures),
	    "requests", ctl_int(p->requests),
	    "ejections", (json_int_t)p->ejections,
	    "last_failure", last,
	    "down_until", until,
	    "probe", probe,
	    "suspect", health_is_suspect(p),
	    "suspect_since", since,
	    "trial", trial);
}

static json_t *
ctl_status_json(const struct ctl_snap *snap, const char *only)
{
	json_t	*root, *workers, *pools, *pool = NULL, *peers = NULL;
	size_t	 i;
	unsigned n;

	if ((workers = json_array()) == NULL)
		return NULL;
	n = snap->meta.nworkers < STORE_WORKERS_MAX ? snap->meta.nworkers :
	    STORE_WORKERS_MAX;
	for (i = 0; i < n; i++) {
		if (snap->meta.worker_pids[i] == 0)
			continue;
		if (json_array_append_new(workers, json_pack("{s:i, s:i}",
		    "pid", (int)snap->meta.worker_pids[i],
		    "slot", (int)i)) == -1)
			goto fail;
	}
	if ((pools = json_array()) == NULL)
		goto fail;
	root = json_pack("{s:i, s:o, s:{s:i, s:b, s:o, s:o}, s:I, s:o}",
	    "version", CTL_STATUS_VERSION,
	    "generated_at", ctl_json_time(snap->now_ms),
	    "master",
	    "pid", (int)snap->meta.master_pid,
	    "running", snap->master_running,
	    "workers", workers,
	    "started_at", ctl_json_time(snap->meta.started_ms),
	    "config_generation", ctl_int(snap->meta.generation),
	    "pools", pools);
	if (root == NULL)
		return NULL;
	for (i = 0; i < snap->n; i++) {
		const struct store_dir_entry *d = &snap->dir[i];

		if (only != NULL && strcmp(d->pool, only) != 0)
			continue;
		/* The directory lists a pool's peers together, in order. */
		if (pool == NULL || i == 0 ||
		    strcmp(snap->dir[i - 1].pool, d->pool) != 0) {
			pool = json_pack("{s:o, s:[]}",
			    "name", ctl_json_str(d->pool, sizeof(d->pool)),
			    "peers");
			if (json_array_append_new(pools, pool) == -1)
				goto fail_root;
			peers = json_object_get(pool, "peers");
		}
		if (!snap->have[i])
			continue;
		if (json_array_append_new(peers,
		    ctl_status_peer(d, &snap->peers[i])) == -1)
			goto fail_root;
	}
	return root;
fail:
	json_decref(workers);
	return NULL;
fail_root:
	json_decref(root);
	return NULL;
}

/* "12s", "5m", "3h", "2d": how long ago, roughly. */
static void
ctl_age(uint64_t now_ms, uint64_t then_ms, char *buf, size_t len)
{
	uint64_t	 s;

	s = now_ms > then_ms ? (now_ms - then_ms) / 1000 : 0;
	if (s < 120)
		snprintf(buf, len, "%" PRIu64 "s ago", s);
	else if (s < 120 * 60)
		snprintf(buf, len, "%" PRIu64 "m ago", s / 60);
	else if (s < 48 * 3600)
		snprintf(buf, len, "%" PRIu64 "h ago", s / 3600);
	else
		snprintf(buf, len, "%" PRIu64 "d ago", s / 86400);
}

#define CTL_COLS	6
#define CTL_CELL_MAX	160

struct ctl_row {
	char	 cell[CTL_COLS][CTL_CELL_MAX];
};

static int
ctl_status_table(const struct ctl_snap *snap, const char *only)
{
	static const char	*const head[CTL_COLS] = { "POOL", "PEER",
	    "STATE", "STREAK", "FAILURES/REQUESTS", "LAST FAILURE" };
	struct ctl_row		*rows;
	size_t			 i, c, nrows = 0, width[CTL_COLS];
	char			 age[32];
	unsigned		 nworkers = 0;

	if ((rows = calloc(snap->n + 1, sizeof(*rows))) == NULL) {
		fprintf(stderr, "shuntctl: %s\n", strerror(ENOMEM));
		return 1;
	}
	for (c = 0; c < CTL_COLS; c++)
		snprintf(rows[0].cell[c], CTL_CELL_MAX, "%s", head[c]);
	nrows = 1;
	for (i = 0; i < snap->n; i++) {
		const struct store_dir_entry	*d = &snap->dir[i];
		const struct store_peer		*p = &snap->peers[i];
		char				(*cell)[CTL_CELL_MAX];

		if (!snap->have[i] ||
		    (only != NULL && strcmp(d->pool, only) != 0))
			continue;
		cell = rows[nrows++].cell;
		snprintf(cell[0], CTL_CELL_MAX, "%.*s",
		    (int)strnlen(d->pool, sizeof(d->pool)), d->pool);
		snprintf(cell[1], CTL_CELL_MAX, "%.*s%s",
		    (int)strnlen(d->addr, sizeof(d->addr)), d->addr,
		    d->flags & STORE_DIR_BACKUP ? " (backup)" : "");
		snprintf(cell[2], CTL_CELL_MAX, "%s%s", health_state_name(p),
		    health_is_suspect(p) ? " (suspect)" : "");
		snprintf(cell[3], CTL_CELL_MAX, "%" PRIu32 "/%" PRIu32,
		    p->consecutive_failures, d->max_fails);
		snprintf(cell[4], CTL_CELL_MAX, "%" PRIu64 "/%" PRIu64,
		    p->failures, p->requests);
		if (p->last_failure_ms == 0)
			snprintf(cell[5], CTL_CELL_MAX, "-");
		else {
			ctl_age(snap->now_ms, p->last_failure_ms, age,
			    sizeof(age));
			snprintf(cell[5], CTL_CELL_MAX, "%s, %s",
			    failure_name(p->last_kind), age);
		}
	}
	for (c = 0; c < CTL_COLS; c++) {
		width[c] = 0;
		for (i = 0; i < nrows; i++)
			if (strlen(rows[i].cell[c]) > width[c])
				width[c] = strlen(rows[i].cell[c]);
	}
	for (i = 0; i < snap->meta.nworkers && i < STORE_WORKERS_MAX; i++)
		if (snap->meta.worker_pids[i] != 0)
			nworkers++;
	printf("master %d %s, %u worker%s, config generation %" PRIu64 "\n",
	    (int)snap->meta.master_pid,
	    snap->master_running ? "running" : "not running", nworkers,
	    nworkers == 1 ? "" : "s", snap->meta.generation);
	for (i = 0; i < nrows; i++) {
		for (c = 0; c < CTL_COLS - 1; c++)
			printf("%-*s  ", (int)width[c], rows[i].cell[c]);
		printf("%s\n", rows[i].cell[CTL_COLS - 1]);
	}
	free(rows);
	return 0;
}

int
ctl_status(const struct ctl_args *a)
{
	struct store	*s;
	struct ctl_snap	 snap;
	json_t		*root;
	int		 rc = 1;

	if ((s = ctl_store_open(a, STORE_RDONLY)) == NULL)
		return 1;
	if (ctl_snap_load(s, a, &snap) == -1)
		goto out;
	if (a->pool != NULL && ctl_snap_check(&snap, a, a->pool, NULL) == -1)
		goto out;
	if (!snap.master_running)
		fprintf(stderr, "shuntctl: the master (pid %d) is not "
		    "running; showing the last known state\n",
		    (int)snap.meta.master_pid);
	if (a->table)
		rc = ctl_status_table(&snap, a->pool);
	else if ((root = ctl_status_json(&snap, a->pool)) == NULL)
		fprintf(stderr, "shuntctl: cannot build the status JSON: %s\n",
		    strerror(ENOMEM));
	else {
		rc = ctl_json_print(root, a->pretty) == 0 ? 0 : 1;
		json_decref(root);
	}
out:
	ctl_snap_free(&snap);
	store_close(s);
	return rc;
}
