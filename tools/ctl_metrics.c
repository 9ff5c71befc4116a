/*
 * ctl_metrics.c: shuntctl metrics, the status as Prometheus text
 * exposition (format 0.0.4), for a textfile collector or a scrape
 * wrapper.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <string.h>

#include "ctl.h"

/* Every state a peer can show: shunt_peer_state has one series each. */
static const char *const ctl_states[] = {
	"up", "down", "probing", "draining", "disabled"
};

#define CTL_NSTATES	(sizeof(ctl_states) / sizeof(ctl_states[0]))

static void
ctl_help(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the exposition format wants. */
static void
ctl_label(const char *v, size_t max)
{
	size_t	 i, len = strnlen(v, max);

	for (i = 0; i < len; i++) {
		switch (v[i]) {
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		default:
			putchar(v[i]);
		}
	}
}

static void
ctl_peer_labels(const struct store_dir_entry *d)
{
	fputs("{pool=\"", stdout);
	ctl_label(d->pool, sizeof(d->pool));
	fputs("\",peer=\"", stdout);
	ctl_label(d->addr, sizeof(d->addr));
	putchar('"');
}

enum ctl_field {
	CTL_UP,
	CTL_STATE,
	CTL_BACKUP,
	CTL_WEIGHT,
	CTL_STREAK,
	CTL_REQUESTS,
	CTL_FAILURES,
	CTL_EJECTIONS,
	CTL_DOWN_UNTIL,
	CTL_LAST_FAILURE,
	CTL_SUSPECT,
};

static const struct ctl_metric {
	enum ctl_field	 field;
	const char	*name, *type, *help;
} ctl_metrics_peer[] = {
	{ CTL_UP, "shunt_peer_up", "gauge",
	    "1 when the peer's health is up, whatever its admin state." },
	{ CTL_STATE, "shunt_peer_state", "gauge",
	    "1 for the state the peer shows (admin state over health)." },
	{ CTL_BACKUP, "shunt_peer_backup", "gauge",
	    "1 for a backup peer." },
	{ CTL_WEIGHT, "shunt_peer_weight", "gauge",
	    "The peer's configured weight." },
	{ CTL_STREAK, "shunt_peer_consecutive_failures", "gauge",
	    "Failed tries since the peer's last success." },
	{ CTL_REQUESTS, "shunt_peer_requests_total", "counter",
	    "Tries sent to the peer." },
	{ CTL_FAILURES, "shunt_peer_failures_total", "counter",
	    "Tries to the peer that failed." },
	{ CTL_EJECTIONS, "shunt_peer_ejections_total", "counter",
	    "Times the peer was marked down." },
	{ CTL_DOWN_UNTIL, "shunt_peer_down_until_seconds", "gauge",
	    "When a down peer may be probed again (unix time), 0 when up." },
	{ CTL_LAST_FAILURE, "shunt_peer_last_failure_seconds", "gauge",
	    "When the peer last failed (unix time), 0 never." },
	{ CTL_SUSPECT, "shunt_peer_suspect", "gauge",
	    "1 while a connect to the up peer went unanswered and none has "
	    "completed since." },
};

static void
ctl_metric_peer(const struct ctl_metric *m, const struct store_dir_entry *d,
    const struct store_peer *p)
{
	const char	*shown;
	uint64_t	 v = 0;
	size_t		 i;

	if (m->field == CTL_STATE) {
		shown = health_state_name(p);
		for (i = 0; i < CTL_NSTATES; i++) {
			fputs(m->name, stdout);
			ctl_peer_labels(d);
			printf(",state=\"%s\"} %d\n", ctl_states[i],
			    strcmp(shown, ctl_states[i]) == 0);
		}
		return;
	}
	switch (m->field) {
	case CTL_UP:
		v = p->health == HEALTH_UP;
		break;
	case CTL_BACKUP:
		v = (d->flags & STORE_DIR_BACKUP) != 0;
		break;
	case CTL_WEIGHT:
		v = d->weight;
		break;
	case CTL_STREAK:
		v = p->consecutive_failures;
		break;
	case CTL_REQUESTS:
		v = p->requests;
		break;
	case CTL_FAILURES:
		v = p->failures;
		break;
	case CTL_EJECTIONS:
		v = p->ejections;
		break;
	case CTL_DOWN_UNTIL:
		v = p->health == HEALTH_UP ? 0 : p->down_until_ms / 1000;
		break;
	case CTL_LAST_FAILURE:
		v = p->last_failure_ms / 1000;
		break;
	case CTL_SUSPECT:
		v = health_is_suspect(p);
		break;
	case CTL_STATE:
		break;
	}
	fputs(m->name, stdout);
	ctl_peer_labels(d);
	printf("} %" PRIu64 "\n", v);
}

int
ctl_metrics(const struct ctl_args *a)
{
	struct store	*s;
	struct ctl_snap	 snap;
	size_t		 i, k;
	unsigned	 nworkers = 0;
	int		 rc = 1;

	if ((s = ctl_store_open(a, STORE_RDONLY)) == NULL)
		return 1;
	if (ctl_snap_load(s, a, &snap) == -1)
		goto out;
	for (i = 0; i < snap.meta.nworkers && i < STORE_WORKERS_MAX; i++)
		if (snap.meta.worker_pids[i] != 0)
			nworkers++;
	ctl_help("shunt_master_up", "gauge",
	    "1 when the master process that published the store is running.");
	printf("shunt_master_up %d\n", snap.master_running);
	ctl_help("shunt_workers", "gauge",
	    "Worker processes the master last recorded.");
	printf("shunt_workers %u\n", nworkers);
	ctl_help("shunt_config_generation", "gauge",
	    "Config generation: 1 at start, one more per reload.");
	printf("shunt_config_generation %" PRIu64 "\n", snap.meta.generation);
	/* Exposition format: all samples of a metric follow its HELP/TYPE. */
	for (k = 0; k < sizeof(ctl_metrics_peer) / sizeof(ctl_metrics_peer[0]);
	    k++) {
		ctl_help(ctl_metrics_peer[k].name, ctl_metrics_peer[k].type,
		    ctl_metrics_peer[k].help);
		for (i = 0; i < snap.n; i++)
			if (snap.have[i])
				ctl_metric_peer(&ctl_metrics_peer[k],
				    &snap.dir[i], &snap.peers[i]);
	}
	rc = 0;
out:
	ctl_snap_free(&snap);
	store_close(s);
	return rc;
}
