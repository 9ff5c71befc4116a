/*
 * ctl_admin.c: shuntctl drain, enable, disable and reset: one write
 * transaction each, through the store, which every worker sees on its
 * next peer selection (DESIGN.md §4.7).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <unistd.h>

#include <lmdb.h>

#include "ctl.h"

enum ctl_op {
	CTL_OP_ADMIN,
	CTL_OP_RESET,
};

static int
ctl_admin_run(const struct ctl_args *a, enum ctl_op op,
    enum admin_state admin)
{
	struct store		*s;
	struct ctl_snap		 snap;
	struct store_event	 ev;
	struct store_peer	 p;
	bool			 changed = false;
	int			 rc, status = 1;

	if ((s = ctl_store_open(a, 0)) == NULL)
		return 1;
	/* -S has no config to check names against: the store's dir is it. */
	if (ctl_snap_load(s, a, &snap) == -1 ||
	    ctl_snap_check(&snap, a, a->pool, a->addr) == -1)
		goto out;
	if (op == CTL_OP_ADMIN)
		rc = store_peer_admin(s, a->pool, a->addr, admin,
		    (int32_t)getpid(), ctl_now_ms(), &ev, &changed);
	else
		rc = store_peer_reset(s, a->pool, a->addr, (int32_t)getpid(),
		    ctl_now_ms(), &ev, &changed);
	if (rc != 0) {
		fprintf(stderr, "shuntctl: cannot %s %s/%s in the health store "
		    "at %s: %s\n", op == CTL_OP_RESET ? "reset" :
		    admin == ADMIN_NONE ? "enable" : admin == ADMIN_DRAINING ?
		    "drain" : "disable", a->pool, a->addr, a->store,
		    rc == MDB_NOTFOUND ? "no such peer record" :
		    store_strerror(rc));
		goto out;
	}
	if (changed) {
		/* A reset that only ended a suspicion: say that. */
		printf("%s/%s: %s -> %s\n", a->pool, a->addr,
		    ev.flags & STORE_EVENT_WAS_SUSPECT && ev.from == HEALTH_UP &&
		    ev.to == HEALTH_UP ? "up (suspect)" : ctl_code_name(ev.from),
		    ctl_code_name(ev.to));
		status = 0;
		goto out;
	}
	/* Nothing changed: say what it is, as of now. */
	if ((rc = store_read_begin(s)) == 0) {
		rc = store_peer_get(s, a->pool, a->addr, &p);
		store_read_end(s);
	}
	if (rc != 0) {
		fprintf(stderr, "shuntctl: cannot read %s/%s in the health "
		    "store at %s: %s\n", a->pool, a->addr, a->store,
		    store_strerror(rc));
		goto out;
	}
	if (op == CTL_OP_RESET)
		printf("%s/%s: already %s, failure streak 0\n", a->pool,
		    a->addr, ctl_health_name(&p));
	else
		printf("%s/%s: already %s\n", a->pool, a->addr,
		    health_state_name(&p));
	status = 0;
out:
	ctl_snap_free(&snap);
	store_close(s);
	return status;
}

int
ctl_drain(const struct ctl_args *a)
{
	return ctl_admin_run(a, CTL_OP_ADMIN, ADMIN_DRAINING);
}

int
ctl_enable(const struct ctl_args *a)
{
	return ctl_admin_run(a, CTL_OP_ADMIN, ADMIN_NONE);
}

int
ctl_disable(const struct ctl_args *a)
{
	return ctl_admin_run(a, CTL_OP_ADMIN, ADMIN_DISABLED);
}

int
ctl_reset(const struct ctl_args *a)
{
	return ctl_admin_run(a, CTL_OP_RESET, ADMIN_NONE);
}
