/*
 * ctl_snap.c: shuntctl's view of the health store, and the small
 * formatting helpers every command shares.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "clock.h"
#include "ctl.h"

struct store *
ctl_store_open(const struct ctl_args *a, int flags)
{
	struct store	*s;
	int		 rc;

	if ((rc = store_open(&s, a->dir, flags)) == 0)
		return s;
	if (rc == ENOENT)
		fprintf(stderr, "shuntctl: no health store at %s: %s\n",
		    a->store, store_strerror(rc));
	else
		fprintf(stderr, "shuntctl: cannot open the health store at "
		    "%s%s: %s\n", a->store, flags & STORE_RDONLY ? "" :
		    " for writing", store_strerror(rc));
	return NULL;
}

int
ctl_snap_load(struct store *s, const struct ctl_args *a,
    struct ctl_snap *snap)
{
	size_t	 i;
	int	 rc;

	memset(snap, 0, sizeof(*snap));
	snap->now_ms = ctl_now_ms();
	if ((rc = store_read_meta(s, &snap->meta)) != 0 ||
	    (rc = store_read_dir(s, &snap->dir, &snap->n)) != 0) {
		if (rc == MDB_NOTFOUND)
			fprintf(stderr, "shuntctl: the health store at %s has "
			    "no pools: shunt has not published to it (or is "
			    "of another version)\n", a->store);
		else
			fprintf(stderr, "shuntctl: cannot read the health "
			    "store at %s: %s\n", a->store, store_strerror(rc));
		return -1;
	}
	snap->master_running = ctl_pid_alive(snap->meta.master_pid);
	if (snap->n == 0)
		return 0;
	snap->peers = calloc(snap->n, sizeof(*snap->peers));
	snap->have = calloc(snap->n, sizeof(*snap->have));
	if (snap->peers == NULL || snap->have == NULL) {
		fprintf(stderr, "shuntctl: %s\n", strerror(ENOMEM));
		return -1;
	}
	/* All records from one read transaction: one consistent view. */
	if ((rc = store_read_begin(s)) != 0) {
		fprintf(stderr, "shuntctl: cannot read the health store at "
		    "%s: %s\n", a->store, store_strerror(rc));
		return -1;
	}
	for (i = 0; i < snap->n; i++) {
		rc = store_peer_get(s, snap->dir[i].pool, snap->dir[i].addr,
		    &snap->peers[i]);
		if (rc == 0)
			snap->have[i] = true;
		else if (rc != MDB_NOTFOUND)
			break;
	}
	store_read_end(s);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		fprintf(stderr, "shuntctl: cannot read peer %s/%s in the "
		    "health store at %s: %s\n", snap->dir[i].pool,
		    snap->dir[i].addr, a->store, store_strerror(rc));
		return -1;
	}
	return 0;
}

void
ctl_snap_free(struct ctl_snap *snap)
{
	free(snap->dir);
	free(snap->peers);
	free(snap->have);
	memset(snap, 0, sizeof(*snap));
}

int
ctl_snap_check(const struct ctl_snap *snap, const struct ctl_args *a,
    const char *pool, const char *addr)
{
	size_t	 i;
	bool	 pool_seen = false;

	for (i = 0; i < snap->n; i++) {
		if (strcmp(snap->dir[i].pool, pool) != 0)
			continue;
		pool_seen = true;
		if (addr == NULL || strcmp(snap->dir[i].addr, addr) == 0)
			return 0;
	}
	if (!pool_seen)
		fprintf(stderr, "shuntctl: no pool \"%s\" in the health store "
		    "at %s\n", pool, a->store);
	else
		fprintf(stderr, "shuntctl: pool \"%s\" in the health store at "
		    "%s has no peer \"%s\"\n", pool, a->store, addr);
	return -1;
}

uint64_t
ctl_now_ms(void)
{
	return clock_wall_ms();
}

const char *
ctl_time(uint64_t ms, char *buf)
{
	struct tm	 tm;
	time_t		 t = (time_t)(ms / 1000);

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, CTL_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, CTL_TIME_MAX, "1970-01-01T00:00:00Z");
	return buf;
}

bool
ctl_pid_alive(int32_t pid)
{
	if (pid <= 0)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

const char *
ctl_code_name(uint8_t code)
{
	struct store_peer	 p;

	memset(&p, 0, sizeof(p));
	if (code >= STORE_EVENT_ADMIN) {
		if (code == STORE_EVENT_ADMIN + ADMIN_NONE)
			return "none";
		p.admin = code - STORE_EVENT_ADMIN;
	} else
		p.health = code;
	return health_state_name(&p);
}

const char *
ctl_health_name(const struct store_peer *p)
{
	struct store_peer	 q;

	memset(&q, 0, sizeof(q));
	q.health = p->health;
	return health_state_name(&q);
}

const char *
ctl_admin_name(const struct store_peer *p)
{
	struct store_peer	 q;

	if (p->admin == ADMIN_NONE)
		return "none";
	memset(&q, 0, sizeof(q));
	q.admin = p->admin;
	return health_state_name(&q);
}

json_t *
ctl_json_str(const char *s, size_t max)
{
	json_t	*j;
	char	*copy;
	size_t	 len, i;

	len = strnlen(s, max);
	if ((j = json_stringn(s, len)) != NULL)
		return j;
	/* Not UTF-8 (a detail cut mid-character, say): show it ASCII. */
	if ((copy = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	copy[len] = '\0';
	j = json_stringn(copy, len);
	free(copy);
	return j;
}

int
ctl_json_print(const json_t *j, bool pretty)
{
	char	*text;

	text = json_dumps(j, JSON_PRESERVE_ORDER |
	    (pretty ? JSON_INDENT(2) : JSON_COMPACT));
	if (text == NULL) {
		fprintf(stderr, "shuntctl: cannot format JSON: %s\n",
		    strerror(ENOMEM));
		return -1;
	}
	printf("%s\n", text);
	free(text);
	return 0;
}
