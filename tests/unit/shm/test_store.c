/*
 * test_store.c: unit tests for shm/store.c against a real LMDB
 * environment in a temporary directory (under $TMPDIR, else /tmp),
 * removed after each test.  The multi-process tests fork workers that
 * each open their own environment after fork, as shunt's workers do;
 * the parent never holds an environment open across fork().
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <lmdb.h>

#include "health.h"
#include "state.h"
#include "store.h"
#include "tap.h"
#include "tmpdir.h"

/* Publish cfg as the master does: its directory entries, then the store. */
static int
publish_cfg(struct store *s, const struct shunt_config *cfg,
    uint64_t generation, int32_t master_pid)
{
	struct store_dir_entry	*ents;
	size_t			 n;
	int			 rc;

	if ((ents = state_dir_entries(cfg, &n)) == NULL)
		return ENOMEM;
	rc = store_publish(s, ents, n, (uint32_t)cfg->npools, generation,
	    master_pid);
	free(ents);
	return rc;
}

#define T0		1700000000000ULL	/* a fixed "now", in ms */
#define MAXPOOLS	4
#define MAXPEERS	8

/* ------------------------------------------------------------------ */
/* Fixtures: a temporary state directory and hand-built configs. */

static char	 tmpdir[1024];	/* this test's directory */
static char	 statedir[1100];	/* tmpdir/state */

static void
tmp_make(void)
{
	tmpdir_make(tmpdir, sizeof(tmpdir), "test_store");
	snprintf(statedir, sizeof(statedir), "%s/state", tmpdir);
}

static void
tmp_remove(void)
{
	tmpdir_remove(tmpdir);
}

/* A new directory and a store created in it. */
static struct store *
fresh(void)
{
	struct store	*s = NULL;
	int		 rc;

	tmp_make();
	rc = store_open(&s, statedir, STORE_CREATE);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

static void
done(struct store *s)
{
	store_close(s);
	tmp_remove();
}

struct tcfg {
	struct shunt_config	 cfg;
	struct cfg_pool		 pools[MAXPOOLS];
	struct cfg_peer		 peers[MAXPOOLS][MAXPEERS];
};

/*
 * spec: pool name, its addresses, NULL; the next pool ...; a final NULL.
 */
static const struct shunt_config *
tcfg_build(struct tcfg *t, const char *const *spec, uint64_t max_fails)
{
	struct cfg_pool	*p;
	struct cfg_peer	*e;
	size_t		 pi = 0;

	memset(t, 0, sizeof(*t));
	while (*spec != NULL && pi < MAXPOOLS) {
		p = &t->pools[pi];
		p->name = (char *)*spec++;
		p->index = pi;
		p->peers = t->peers[pi];
		p->health.max_fails = max_fails;
		p->health.fail_timeout_ms = 1000 * (pi + 1);
		while (*spec != NULL && p->npeers < MAXPEERS) {
			e = &p->peers[p->npeers];
			e->addr.text = (char *)*spec++;
			e->weight = p->npeers + 1;
			e->backup = p->npeers == 2;
			e->index = p->npeers;
			e->pool = p;
			p->npeers++;
		}
		spec++;
		pi++;
	}
	t->cfg.pools = t->pools;
	t->cfg.npools = pi;
	return &t->cfg;
}

static const char *const spec_a[] = {
	"web", "127.0.0.1:80", "127.0.0.2:80", "127.0.0.3:80", NULL,
	"api", "[::1]:8080", NULL,
	NULL
};

/* web loses 127.0.0.2, gains 127.0.0.9; api goes; zeta comes first. */
static const char *const spec_b[] = {
	"zeta", "127.0.2.7:443", NULL,
	"web", "127.0.0.3:80", "127.0.0.1:80", "127.0.0.9:80", NULL,
	NULL
};

static struct health_params
hp_make(uint32_t max_fails)
{
	struct health_params	 hp;

	memset(&hp, 0, sizeof(hp));
	hp.max_fails = max_fails;
	hp.fail_timeout_ms = 1000;
	hp.probe_stale_ms = 5000;
	hp.trial_stale_ms = 400;
	return hp;
}

static int
peer_get(struct store *s, const char *pool, const char *addr,
    struct store_peer *p)
{
	int	 rc;

	if ((rc = store_read_begin(s)) != 0)
		return rc;
	rc = store_peer_get(s, pool, addr, p);
	store_read_end(s);
	return rc;
}

static size_t
event_count(struct store *s)
{
	struct store_event	*evs;
	size_t			 n;

	CU_ASSERT_EQUAL(store_read_events(s, SIZE_MAX, &evs, &n), 0);
	free(evs);
	return n;
}

static mode_t
mode_of(const char *dir, const char *file)
{
	char		 path[PATH_MAX];
	struct stat	 st;

	snprintf(path, sizeof(path), "%s%s%s", dir, file ? "/" : "",
	    file ? file : "");
	if (stat(path, &st) == -1)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

/* Is every descriptor open on a file of dir close-on-exec? */
static int
fds_cloexec(const char *dir, int *count)
{
	char	 link[64], target[PATH_MAX];
	ssize_t	 n;
	int	 fd, ok = 1, flags;

	*count = 0;
	for (fd = 0; fd < 1024; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if ((n = readlink(link, target, sizeof(target) - 1)) == -1)
			continue;
		target[n] = '\0';
		if (strncmp(target, dir, strlen(dir)) != 0)
			continue;
		(*count)++;
		flags = fcntl(fd, F_GETFD);
		if (flags == -1 || !(flags & FD_CLOEXEC))
			ok = 0;
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* Raw LMDB, for planting records the store would never write. */

static MDB_env *
raw_open(void)
{
	MDB_env	*env;

	CU_ASSERT_EQUAL_FATAL(mdb_env_create(&env), 0);
	mdb_env_set_mapsize(env, STORE_MAP_SIZE);
	mdb_env_set_maxreaders(env, STORE_MAX_READERS);
	CU_ASSERT_EQUAL_FATAL(mdb_env_open(env, statedir,
	    MDB_NOTLS | MDB_WRITEMAP | MDB_NOSYNC, 0640), 0);
	return env;
}

static size_t
raw_count(MDB_env *env)
{
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_stat	 st;

	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	CU_ASSERT_EQUAL(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	CU_ASSERT_EQUAL(mdb_stat(txn, dbi, &st), 0);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

static void
raw_put(MDB_env *env, const char *key, const void *data, size_t len)
{
	MDB_txn	*txn;
	MDB_dbi	 dbi;
	MDB_val	 k = { strlen(key), (void *)key }, v = { len, (void *)data };

	CU_ASSERT_EQUAL_FATAL(mdb_txn_begin(env, NULL, 0, &txn), 0);
	CU_ASSERT_EQUAL(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	CU_ASSERT_EQUAL(mdb_put(txn, dbi, &k, &v, 0), 0);
	CU_ASSERT_EQUAL(mdb_txn_commit(txn), 0);
}

/* ------------------------------------------------------------------ */

static void
test_open(void)
{
	struct store	*s = NULL;
	char		 deep[1200];
	int		 rc, nfd;

	tmp_make();
	/* Without STORE_CREATE nothing is made. */
	CU_ASSERT_EQUAL(store_open(&s, statedir, 0), ENOENT);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(store_open(&s, statedir, STORE_RDONLY), ENOENT);
	CU_ASSERT_EQUAL(mkdir(statedir, 0700), 0);
	CU_ASSERT_EQUAL(store_open(&s, statedir, 0), ENOENT);
	CU_ASSERT_EQUAL(mode_of(statedir, "data.mdb"), (mode_t)-1);
	CU_ASSERT_EQUAL(rmdir(statedir), 0);
	CU_ASSERT_EQUAL(store_open(&s, statedir, STORE_CREATE | STORE_RDONLY),
	    EINVAL);
	CU_ASSERT_EQUAL(store_open(&s, statedir, 0x100), EINVAL);

	/* Missing parents too; modes as documented (umask 022). */
	snprintf(deep, sizeof(deep), "%s/a/b", statedir);
	rc = store_open(&s, deep, STORE_CREATE);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(mode_of(statedir, NULL), 0750);
	CU_ASSERT_EQUAL(mode_of(deep, NULL), 0750);
	CU_ASSERT_EQUAL(mode_of(deep, "data.mdb"), 0640);
	CU_ASSERT_EQUAL(mode_of(deep, "lock.mdb"), 0640);
	CU_ASSERT_TRUE(fds_cloexec(deep, &nfd));
	CU_ASSERT_TRUE(nfd >= 2);
	/* Never published: the readers say so. */
	{
		struct store_meta	 m;
		struct store_dir_entry	*d;
		size_t			 n;

		CU_ASSERT_EQUAL(store_read_meta(s, &m), MDB_NOTFOUND);
		CU_ASSERT_EQUAL(store_read_dir(s, &d, &n), MDB_NOTFOUND);
		CU_ASSERT_EQUAL(store_set_workers(s, NULL, 0), MDB_NOTFOUND);
	}
	store_close(s);

	/* Now it exists: plain and read-only opens work. */
	CU_ASSERT_EQUAL(store_open(&s, deep, 0), 0);
	store_close(s);
	CU_ASSERT_EQUAL(store_open(&s, deep, STORE_RDONLY), 0);
	{
		struct tcfg	 t;
		bool		 ch = true;

		CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 1), 1,
		    1), EACCES);
		CU_ASSERT_EQUAL(store_peer_reset(s, "web", "127.0.0.1:80", 1,
		    T0, NULL, &ch), EACCES);
		CU_ASSERT_FALSE(ch);
	}
	store_close(s);
	store_close(NULL);
	CU_ASSERT_STRING_EQUAL(store_strerror(MDB_NOTFOUND),
	    mdb_strerror(MDB_NOTFOUND));
	CU_ASSERT_PTR_NOT_NULL(strstr(store_strerror(STORE_RECREATED),
	    "recreated"));
	CU_ASSERT_PTR_NOT_NULL(strstr(store_strerror(STORE_FORKED), "process"));
	CU_ASSERT_PTR_NOT_NULL(strstr(store_strerror(ENOENT), "No such"));
	tmp_remove();
}

static void
test_publish(void)
{
	struct store		*s = fresh();
	struct tcfg		 t;
	struct store_peer	 p;
	struct store_meta	 m;
	struct store_dir_entry	*d;
	size_t			 n, i, j, k;
	uint64_t		 before = (uint64_t)time(NULL) * 1000;

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 3), 1, 4242),
	    0);
	CU_ASSERT_EQUAL(store_read_begin(s), 0);
	CU_ASSERT_EQUAL(store_read_begin(s), EINVAL);
	for (i = 0; i < t.cfg.npools; i++)
		for (j = 0; j < t.pools[i].npeers; j++) {
			memset(&p, 0xff, sizeof(p));
			CU_ASSERT_EQUAL(store_peer_get(s, t.pools[i].name,
			    t.pools[i].peers[j].addr.text, &p), 0);
			CU_ASSERT_EQUAL(p.version, STORE_LAYOUT_VERSION);
			CU_ASSERT_EQUAL(p.health, HEALTH_UP);
			CU_ASSERT_EQUAL(p.admin, ADMIN_NONE);
			CU_ASSERT_EQUAL(p.consecutive_failures, 0);
		}
	CU_ASSERT_EQUAL(store_peer_get(s, "web", "127.0.0.4:80", &p),
	    MDB_NOTFOUND);
	CU_ASSERT_EQUAL(store_peer_get(s, "api", "127.0.0.1:80", &p),
	    MDB_NOTFOUND);
	CU_ASSERT_EQUAL(store_peer_get(s, "", "127.0.0.1:80", &p), EINVAL);
	store_read_end(s);
	store_read_end(s);
	CU_ASSERT_EQUAL(store_peer_get(s, "web", "127.0.0.1:80", &p), EINVAL);

	CU_ASSERT_EQUAL(store_read_meta(s, &m), 0);
	CU_ASSERT_EQUAL(m.version, STORE_LAYOUT_VERSION);
	CU_ASSERT_EQUAL(m.generation, 1);
	CU_ASSERT_EQUAL(m.master_pid, 4242);
	CU_ASSERT_EQUAL(m.nworkers, 0);
	CU_ASSERT_TRUE(m.started_ms >= before);
	CU_ASSERT_EQUAL(m.published_ms, m.started_ms);

	CU_ASSERT_EQUAL_FATAL(store_read_dir(s, &d, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	k = 0;
	for (i = 0; i < t.cfg.npools; i++)
		for (j = 0; j < t.pools[i].npeers; j++, k++) {
			CU_ASSERT_STRING_EQUAL(d[k].pool, t.pools[i].name);
			CU_ASSERT_STRING_EQUAL(d[k].addr,
			    t.pools[i].peers[j].addr.text);
			CU_ASSERT_EQUAL(d[k].pool_index, i);
			CU_ASSERT_EQUAL(d[k].peer_index, j);
			CU_ASSERT_EQUAL(d[k].max_fails, 3);
			CU_ASSERT_EQUAL(d[k].fail_timeout_ms, 1000 * (i + 1));
			CU_ASSERT_EQUAL(d[k].weight, j + 1);
			CU_ASSERT_EQUAL(!!(d[k].flags & STORE_DIR_BACKUP),
			    j == 2);
		}
	free(d);

	/* Workers by slot. */
	{
		int32_t	 pids[3] = { 100, 101, 102 };
		int32_t	 many[STORE_WORKERS_MAX + 1];

		memset(many, 0, sizeof(many));
		CU_ASSERT_EQUAL(store_set_workers(s, pids, 3), 0);
		CU_ASSERT_EQUAL(store_set_workers(s, many,
		    STORE_WORKERS_MAX + 1), EINVAL);
		CU_ASSERT_EQUAL(store_read_meta(s, &m), 0);
		CU_ASSERT_EQUAL(m.nworkers, 3);
		CU_ASSERT_EQUAL(m.worker_pids[0], 100);
		CU_ASSERT_EQUAL(m.worker_pids[2], 102);
		CU_ASSERT_EQUAL(m.worker_pids[3], 0);
		CU_ASSERT_EQUAL(m.master_pid, 4242);
		CU_ASSERT_EQUAL(m.generation, 1);
	}

	/* Names that do not fit are refused, nothing written. */
	{
		struct tcfg	 bad;
		char		 longname[STORE_NAME_MAX + 1];
		const char	*spec[] = { longname, "127.0.0.1:80", NULL,
		    NULL };

		memset(longname, 'p', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&bad, spec, 1), 2,
		    4242), EINVAL);
		CU_ASSERT_EQUAL(store_read_meta(s, &m), 0);
		CU_ASSERT_EQUAL(m.generation, 1);
	}
	done(s);
}

static void
test_republish(void)
{
	struct store		*s = fresh();
	struct tcfg		 t;
	struct store_peer	 p;
	struct store_meta	 m, m1;
	struct store_dir_entry	*d;
	struct health_params	 hp = hp_make(3);
	size_t			 n;
	bool			 ch;
	int32_t			 pids[2] = { 7, 8 };

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 3), 1, 500),
	    0);
	CU_ASSERT_EQUAL(store_read_meta(s, &m1), 0);
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.1:80", &hp,
	    FAIL_RESET, "reset by peer", 9, T0, NULL, &ch), 0);
	CU_ASSERT_FALSE(ch);
	CU_ASSERT_EQUAL(store_peer_admin(s, "web", "127.0.0.3:80",
	    ADMIN_DRAINING, 9, T0, NULL, &ch), 0);
	CU_ASSERT_TRUE(ch);
	CU_ASSERT_EQUAL(store_set_workers(s, pids, 2), 0);

	usleep(2000);
	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_b, 3), 2, 500),
	    0);
	/* Unchanged peers keep their health, streak and admin state. */
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.1:80", &p), 0);
	CU_ASSERT_EQUAL(p.consecutive_failures, 1);
	CU_ASSERT_EQUAL(p.last_kind, FAIL_RESET);
	CU_ASSERT_STRING_EQUAL(p.last_failure_detail, "reset by peer");
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.3:80", &p), 0);
	CU_ASSERT_EQUAL(p.admin, ADMIN_DRAINING);
	/* Removed peers and pools are gone; new ones are fresh. */
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.2:80", &p), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(peer_get(s, "api", "[::1]:8080", &p),
	    MDB_NOTFOUND);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.9:80", &p), 0);
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(peer_get(s, "zeta", "127.0.2.7:443", &p), 0);
	/* A worker of the old generation writing a removed peer: refused. */
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.2:80", &hp,
	    FAIL_RESET, NULL, 9, T0, NULL, &ch), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.2:80", &p), MDB_NOTFOUND);

	/* The directory follows the new config order. */
	CU_ASSERT_EQUAL_FATAL(store_read_dir(s, &d, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 4);
	CU_ASSERT_STRING_EQUAL(d[0].pool, "zeta");
	CU_ASSERT_STRING_EQUAL(d[0].addr, "127.0.2.7:443");
	CU_ASSERT_STRING_EQUAL(d[1].pool, "web");
	CU_ASSERT_STRING_EQUAL(d[1].addr, "127.0.0.3:80");
	CU_ASSERT_STRING_EQUAL(d[2].addr, "127.0.0.1:80");
	CU_ASSERT_STRING_EQUAL(d[3].addr, "127.0.0.9:80");
	CU_ASSERT_EQUAL(d[3].pool_index, 1);
	CU_ASSERT_EQUAL(d[3].peer_index, 2);
	free(d);

	/* A reload by the same master keeps its start time and workers. */
	CU_ASSERT_EQUAL(store_read_meta(s, &m), 0);
	CU_ASSERT_EQUAL(m.generation, 2);
	CU_ASSERT_EQUAL(m.started_ms, m1.started_ms);
	CU_ASSERT_TRUE(m.published_ms > m1.published_ms);
	CU_ASSERT_EQUAL(m.nworkers, 2);
	CU_ASSERT_EQUAL(m.worker_pids[1], 8);
	/* A new master starts afresh, but health still survives. */
	usleep(2000);
	CU_ASSERT_EQUAL(publish_cfg(s, &t.cfg, 1, 501), 0);
	CU_ASSERT_EQUAL(store_read_meta(s, &m), 0);
	CU_ASSERT_EQUAL(m.master_pid, 501);
	CU_ASSERT_EQUAL(m.generation, 1);
	CU_ASSERT_EQUAL(m.nworkers, 0);
	CU_ASSERT_EQUAL(m.worker_pids[0], 0);
	CU_ASSERT_TRUE(m.started_ms > m1.started_ms);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.1:80", &p), 0);
	CU_ASSERT_EQUAL(p.consecutive_failures, 1);

	/* An empty config empties the peers but keeps the events. */
	{
		struct shunt_config	 empty;

		memset(&empty, 0, sizeof(empty));
		CU_ASSERT_EQUAL(publish_cfg(s, &empty, 3, 501), 0);
	}
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.1:80", &p), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(store_read_dir(s, &d, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_EQUAL(event_count(s), 1);
	done(s);
}

static void
test_failure_success(void)
{
	struct store		*s = fresh();
	struct tcfg		 t;
	struct store_peer	 p;
	struct store_event	 ev, *evs;
	struct health_params	 hp = hp_make(2);
	char			 line[160];
	size_t			 n;
	bool			 ch;

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 2), 1, 1), 0);

	/* Not the peer's fault: no change, no write. */
	ch = true;
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.2:80", &hp,
	    FAIL_STALE, NULL, 1236, T0, &ev, &ch), 0);
	CU_ASSERT_FALSE(ch);

	memset(&ev, 0x5a, sizeof(ev));
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.2:80", &hp,
	    FAIL_CONNECT_TIMEOUT, "connect() timed out", 1236, T0, &ev, &ch),
	    0);
	CU_ASSERT_FALSE(ch);
	CU_ASSERT_EQUAL(ev.version, 0x5a5a5a5a);	/* left alone */
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.2:80", &p), 0);
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(p.consecutive_failures, 1);
	CU_ASSERT_EQUAL(p.last_failure_pid, 1236);
	CU_ASSERT_EQUAL(event_count(s), 0);

	/* The max_fails-th failure ejects, and says so once. */
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.2:80", &hp,
	    FAIL_CONNECT_TIMEOUT, NULL, 1236, T0 + 10, &ev, &ch), 0);
	CU_ASSERT_TRUE(ch);
	CU_ASSERT_EQUAL(ev.version, STORE_LAYOUT_VERSION);
	CU_ASSERT_EQUAL(ev.from, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.to, HEALTH_DOWN);
	CU_ASSERT_EQUAL(ev.cause, FAIL_CONNECT_TIMEOUT);
	CU_ASSERT_EQUAL(ev.seq, 1);
	CU_ASSERT_EQUAL(ev.at_ms, T0 + 10);
	CU_ASSERT_STRING_EQUAL(ev.pool, "web");
	CU_ASSERT_STRING_EQUAL(ev.addr, "127.0.0.2:80");
	health_event_format(&ev, hp.max_fails, line, sizeof(line));
	CU_ASSERT_STRING_EQUAL(line,
	    "peer web/127.0.0.2:80 up -> down (connect_timeout, 2/2, "
	    "worker 1236)");
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.2:80", &p), 0);
	CU_ASSERT_EQUAL(p.health, HEALTH_DOWN);
	CU_ASSERT_EQUAL(p.down_until_ms, T0 + 10 + 1000);
	CU_ASSERT_EQUAL(p.ejections, 1);

	/* Another failure while down: recorded, no new event. */
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.2:80", &hp,
	    FAIL_RESET, NULL, 1237, T0 + 20, &ev, &ch), 0);
	CU_ASSERT_FALSE(ch);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.2:80", &p), 0);
	CU_ASSERT_EQUAL(p.consecutive_failures, 3);
	CU_ASSERT_EQUAL(p.last_failure_pid, 1237);
	CU_ASSERT_EQUAL(event_count(s), 1);

	/* A success brings it up, streak 0. */
	CU_ASSERT_TRUE(health_success_needs_write(&p));
	CU_ASSERT_EQUAL(store_peer_success(s, "web", "127.0.0.2:80", 1238,
	    T0 + 30, &ev, &ch), 0);
	CU_ASSERT_TRUE(ch);
	CU_ASSERT_EQUAL(ev.from, HEALTH_DOWN);
	CU_ASSERT_EQUAL(ev.to, HEALTH_UP);
	CU_ASSERT_EQUAL(ev.seq, 2);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.2:80", &p), 0);
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(p.consecutive_failures, 0);
	CU_ASSERT_FALSE(health_success_needs_write(&p));

	/* Up with a streak: the success clears it, no event. */
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.2:80", &hp,
	    FAIL_RESET, NULL, 1237, T0 + 40, NULL, NULL), 0);
	CU_ASSERT_EQUAL(store_peer_success(s, "web", "127.0.0.2:80", 1238,
	    T0 + 50, NULL, &ch), 0);
	CU_ASSERT_FALSE(ch);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.2:80", &p), 0);
	CU_ASSERT_EQUAL(p.consecutive_failures, 0);
	/* Up with streak 0: nothing changes, nothing written. */
	CU_ASSERT_EQUAL(store_peer_success(s, "web", "127.0.0.2:80", 1238,
	    T0 + 60, NULL, &ch), 0);
	CU_ASSERT_FALSE(ch);

	CU_ASSERT_EQUAL(store_read_events(s, 10, &evs, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(evs[0].seq, 1);
	CU_ASSERT_EQUAL(evs[0].to, HEALTH_DOWN);
	CU_ASSERT_EQUAL(evs[1].seq, 2);
	CU_ASSERT_EQUAL(evs[1].to, HEALTH_UP);
	free(evs);

	/* Errors: unknown peer, names too long. */
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.9.9.9:80", &hp,
	    FAIL_RESET, NULL, 1, T0, NULL, &ch), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(store_peer_success(s, "web",
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    ":80", 1, T0, NULL, &ch), EINVAL);
	CU_ASSERT_FALSE(ch);
	done(s);
}

static void
test_probe(void)
{
	struct store		*s = fresh();
	struct tcfg		 t;
	struct store_peer	 p;
	struct store_event	 ev;
	struct health_params	 hp = hp_make(1);
	bool			 won;

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 1), 1, 1), 0);
	/* Up: nothing to claim. */
	CU_ASSERT_EQUAL(store_peer_claim_probe(s, "web", "127.0.0.1:80", &hp,
	    11, T0, &ev, &won), 0);
	CU_ASSERT_FALSE(won);
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.1:80", &hp,
	    FAIL_CONNECT_REFUSED, NULL, 11, T0, NULL, NULL), 0);
	/* Down, fail_timeout not over. */
	CU_ASSERT_EQUAL(store_peer_claim_probe(s, "web", "127.0.0.1:80", &hp,
	    11, T0 + 999, &ev, &won), 0);
	CU_ASSERT_FALSE(won);
	/* Over: exactly one claim wins. */
	CU_ASSERT_EQUAL(store_peer_claim_probe(s, "web", "127.0.0.1:80", &hp,
	    12, T0 + 1000, &ev, &won), 0);
	CU_ASSERT_TRUE(won);
	CU_ASSERT_EQUAL(ev.from, HEALTH_DOWN);
	CU_ASSERT_EQUAL(ev.to, HEALTH_PROBING);
	CU_ASSERT_STRING_EQUAL(ev.addr, "127.0.0.1:80");
	CU_ASSERT_EQUAL(store_peer_claim_probe(s, "web", "127.0.0.1:80", &hp,
	    13, T0 + 1001, &ev, &won), 0);
	CU_ASSERT_FALSE(won);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.1:80", &p), 0);
	CU_ASSERT_EQUAL(p.health, HEALTH_PROBING);
	CU_ASSERT_EQUAL(p.probe_pid, 12);
	/* The prober gives up without a verdict: claimable again at once. */
	CU_ASSERT_EQUAL(store_peer_release_probe(s, "web", "127.0.0.1:80",
	    FAIL_CLIENT_ABORT, 13, T0 + 1002, NULL, &won), 0);
	CU_ASSERT_FALSE(won);
	CU_ASSERT_EQUAL(store_peer_release_probe(s, "web", "127.0.0.1:80",
	    FAIL_CLIENT_ABORT, 12, T0 + 1002, NULL, &won), 0);
	CU_ASSERT_TRUE(won);
	CU_ASSERT_EQUAL(store_peer_claim_probe(s, "web", "127.0.0.1:80", &hp,
	    13, T0 + 1003, &ev, &won), 0);
	CU_ASSERT_TRUE(won);
	/* A stale probe is taken over. */
	CU_ASSERT_EQUAL(store_peer_claim_probe(s, "web", "127.0.0.1:80", &hp,
	    14, T0 + 1003 + hp.probe_stale_ms, &ev, &won), 0);
	CU_ASSERT_TRUE(won);
	CU_ASSERT_EQUAL(ev.from, HEALTH_PROBING);
	CU_ASSERT_EQUAL(event_count(s), 5);
	done(s);
}

static void
test_suspect(void)
{
	struct store		*s = fresh();
	struct tcfg		 t;
	struct store_peer	 p;
	struct store_event	 ev, *evs;
	struct health_params	 hp = hp_make(2);
	const char		*a = "127.0.0.3:80";
	size_t			 n;
	bool			 ch, trial, won;

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 1), 1, 1), 0);
	/* A fresh record: the first connect is a trial, one winner. */
	CU_ASSERT_EQUAL(store_peer_claim_trial(s, "web", a, &hp, 11, T0, &won),
	    0);
	CU_ASSERT_TRUE(won);
	CU_ASSERT_EQUAL(store_peer_claim_trial(s, "web", a, &hp, 12, T0, &won),
	    0);
	CU_ASSERT_FALSE(won);
	CU_ASSERT_EQUAL(store_peer_connected(s, "web", a, true, 11, T0 + 1,
	    &ev, &ch), 0);
	CU_ASSERT_FALSE(ch);
	CU_ASSERT_EQUAL(peer_get(s, "web", a, &p), 0);
	CU_ASSERT_EQUAL(p.proven, 1);
	CU_ASSERT_EQUAL(p.trial_pid, 0);
	/* Claims and proofs are no transitions. */
	CU_ASSERT_EQUAL(event_count(s), 0);

	/* A stall marks it, hands the trial over, and logs one event. */
	CU_ASSERT_EQUAL(store_peer_connect_stall(s, "web", a, &hp, 11, T0 + 10,
	    &ev, &ch, &trial), 0);
	CU_ASSERT_TRUE(ch);
	CU_ASSERT_TRUE(trial);
	CU_ASSERT_EQUAL(ev.flags, STORE_EVENT_SUSPECT);
	CU_ASSERT_EQUAL(ev.cause, FAIL_CONNECT_SLOW);
	CU_ASSERT_STRING_EQUAL(ev.pool, "web");
	CU_ASSERT_STRING_EQUAL(ev.addr, a);
	CU_ASSERT_EQUAL(store_peer_connect_stall(s, "web", a, &hp, 12, T0 + 11,
	    &ev, &ch, &trial), 0);
	CU_ASSERT_FALSE(ch);
	CU_ASSERT_FALSE(trial);
	CU_ASSERT_EQUAL(event_count(s), 1);
	CU_ASSERT_EQUAL(peer_get(s, "web", a, &p), 0);
	CU_ASSERT_EQUAL(p.suspect_since_ms, T0 + 10);
	CU_ASSERT_EQUAL(p.trial_pid, 11);

	/* The trial times out (1/2): released in the same write. */
	CU_ASSERT_EQUAL(store_peer_trial_failure(s, "web", a, &hp,
	    FAIL_CONNECT_TIMEOUT, "connecting", 11, T0 + 100, &ev, &ch), 0);
	CU_ASSERT_FALSE(ch);
	CU_ASSERT_EQUAL(peer_get(s, "web", a, &p), 0);
	CU_ASSERT_EQUAL(p.trial_pid, 0);
	CU_ASSERT_EQUAL(p.consecutive_failures, 1);
	CU_ASSERT_NOT_EQUAL(p.suspect_since_ms, 0);
	/* The next trial, given up without a verdict, then claimed again. */
	CU_ASSERT_EQUAL(store_peer_claim_trial(s, "web", a, &hp, 12, T0 + 101,
	    &won), 0);
	CU_ASSERT_TRUE(won);
	CU_ASSERT_EQUAL(store_peer_release_trial(s, "web", a, 11), 0);
	CU_ASSERT_EQUAL(peer_get(s, "web", a, &p), 0);
	CU_ASSERT_EQUAL(p.trial_pid, 12);
	CU_ASSERT_EQUAL(store_peer_release_trial(s, "web", a, 12), 0);
	CU_ASSERT_EQUAL(store_peer_claim_trial(s, "web", a, &hp, 13, T0 + 102,
	    &won), 0);
	CU_ASSERT_TRUE(won);
	/* It connects: suspicion over, one more event. */
	CU_ASSERT_EQUAL(store_peer_connected(s, "web", a, true, 13, T0 + 103,
	    &ev, &ch), 0);
	CU_ASSERT_TRUE(ch);
	CU_ASSERT_EQUAL(ev.flags, STORE_EVENT_WAS_SUSPECT);
	CU_ASSERT_EQUAL(peer_get(s, "web", a, &p), 0);
	CU_ASSERT_EQUAL(p.suspect_since_ms, 0);
	CU_ASSERT_EQUAL(p.trial_pid, 0);
	CU_ASSERT_EQUAL(store_read_events(s, 2, &evs, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(evs[0].flags, STORE_EVENT_SUSPECT);
	CU_ASSERT_EQUAL(evs[1].flags, STORE_EVENT_WAS_SUSPECT);
	free(evs);
	/* Unknown peers are refused, not made up. */
	CU_ASSERT_EQUAL(store_peer_connect_stall(s, "web", "127.0.0.8:80", &hp,
	    11, T0, &ev, &ch, &trial), MDB_NOTFOUND);
	CU_ASSERT_FALSE(trial);
	CU_ASSERT_EQUAL(store_peer_claim_trial(s, "web", "127.0.0.8:80", &hp,
	    11, T0, &won), MDB_NOTFOUND);
	CU_ASSERT_FALSE(won);
	done(s);
}

static void
test_admin_reset(void)
{
	struct store		*s = fresh();
	struct tcfg		 t;
	struct store_peer	 p;
	struct store_event	 ev;
	struct health_params	 hp = hp_make(1);
	char			 line[160];
	bool			 ch;

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 1), 1, 1), 0);
	CU_ASSERT_EQUAL(store_peer_admin(s, "api", "[::1]:8080",
	    ADMIN_DRAINING, 77, T0, &ev, &ch), 0);
	CU_ASSERT_TRUE(ch);
	CU_ASSERT_TRUE(health_event_is_admin(&ev));
	health_event_format(&ev, 1, line, sizeof(line));
	CU_ASSERT_STRING_EQUAL(line, "peer api/[::1]:8080 up -> "
	    "draining (admin, 0/1, pid 77)");
	CU_ASSERT_EQUAL(store_peer_admin(s, "api", "[::1]:8080",
	    ADMIN_DRAINING, 77, T0, &ev, &ch), 0);
	CU_ASSERT_FALSE(ch);
	CU_ASSERT_EQUAL(store_peer_admin(s, "api", "[::1]:8080",
	    ADMIN_DISABLED, 77, T0, NULL, &ch), 0);
	CU_ASSERT_TRUE(ch);
	CU_ASSERT_EQUAL(peer_get(s, "api", "[::1]:8080", &p), 0);
	CU_ASSERT_EQUAL(p.admin, ADMIN_DISABLED);
	CU_ASSERT_STRING_EQUAL(health_state_name(&p), "disabled");
	/* Health moves underneath; enable shows it. */
	CU_ASSERT_EQUAL(store_peer_failure(s, "api", "[::1]:8080", &hp,
	    FAIL_TLS, NULL, 5, T0, NULL, &ch), 0);
	CU_ASSERT_TRUE(ch);
	CU_ASSERT_EQUAL(store_peer_admin(s, "api", "[::1]:8080",
	    ADMIN_NONE, 77, T0, &ev, &ch), 0);
	CU_ASSERT_TRUE(ch);
	CU_ASSERT_EQUAL(ev.to, HEALTH_DOWN);
	/* Reset: up, streak 0, totals kept. */
	CU_ASSERT_EQUAL(store_peer_reset(s, "api", "[::1]:8080", 77,
	    T0 + 1, &ev, &ch), 0);
	CU_ASSERT_TRUE(ch);
	CU_ASSERT_EQUAL(ev.from, HEALTH_DOWN);
	CU_ASSERT_EQUAL(ev.to, HEALTH_UP);
	CU_ASSERT_EQUAL(peer_get(s, "api", "[::1]:8080", &p), 0);
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(p.consecutive_failures, 0);
	CU_ASSERT_EQUAL(p.ejections, 1);
	CU_ASSERT_EQUAL(p.last_kind, FAIL_TLS);
	CU_ASSERT_EQUAL(store_peer_reset(s, "api", "[::1]:8080", 77,
	    T0 + 2, &ev, &ch), 0);
	CU_ASSERT_FALSE(ch);
	CU_ASSERT_EQUAL(event_count(s), 5);
	done(s);
}

static void
test_counters(void)
{
	struct store		*s = fresh();
	struct tcfg		 t;
	struct store_peer	 p;
	struct store_counter	 batch[3] = {
		{ "web", "127.0.0.1:80", 10, 1 },
		{ "web", "127.0.0.99:80", 5, 5 },	/* gone by a reload */
		{ "api", "[::1]:8080", 3, 0 },
	};
	struct store_counter	 bad[2] = {
		{ "web", "127.0.0.1:80", 10, 1 },
		{ "web", "", 1, 1 },
	};

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 1), 1, 1), 0);
	CU_ASSERT_EQUAL(store_add_counters(s, batch, 3), 0);
	CU_ASSERT_EQUAL(store_add_counters(s, batch, 3), 0);
	CU_ASSERT_EQUAL(store_add_counters(s, batch, 0), 0);
	CU_ASSERT_EQUAL(store_add_counters(s, bad, 2), EINVAL);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.1:80", &p), 0);
	CU_ASSERT_EQUAL(p.requests, 20);
	CU_ASSERT_EQUAL(p.failures, 2);
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);	/* counters decide nothing */
	CU_ASSERT_EQUAL(peer_get(s, "api", "[::1]:8080", &p), 0);
	CU_ASSERT_EQUAL(p.requests, 6);
	CU_ASSERT_EQUAL(p.failures, 0);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.99:80", &p), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(event_count(s), 0);
	done(s);
}

static void
test_events_ring(void)
{
	struct store		*s = fresh();
	struct tcfg		 t;
	struct store_event	 ev, *evs;
	size_t			 i, n, total = STORE_EVENTS_KEPT + 37;
	bool			 ch;

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 1), 1, 1), 0);
	CU_ASSERT_EQUAL(store_read_events(s, 10, &evs, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NULL(evs);
	for (i = 0; i < total; i++) {
		CU_ASSERT_EQUAL(store_peer_admin(s, "web", "127.0.0.3:80",
		    i % 2 ? ADMIN_NONE : ADMIN_DRAINING, (int32_t)i, T0 + i,
		    &ev, &ch), 0);
		CU_ASSERT_TRUE(ch);
		CU_ASSERT_EQUAL(ev.seq, i + 1);
	}
	/* The latest N, oldest first. */
	CU_ASSERT_EQUAL(store_read_events(s, 10, &evs, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 10);
	for (i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(evs[i].seq, total - 9 + i);
		CU_ASSERT_EQUAL(evs[i].pid, (int32_t)(total - 10 + i));
		CU_ASSERT_STRING_EQUAL(evs[i].addr, "127.0.0.3:80");
	}
	free(evs);
	/* Bounded: exactly STORE_EVENTS_KEPT are left. */
	CU_ASSERT_EQUAL(store_read_events(s, SIZE_MAX, &evs, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, STORE_EVENTS_KEPT);
	CU_ASSERT_EQUAL(evs[0].seq, total - STORE_EVENTS_KEPT + 1);
	CU_ASSERT_EQUAL(evs[n - 1].seq, total);
	for (i = 1; i < n; i++)
		if (evs[i].seq != evs[i - 1].seq + 1) {
			CU_FAIL("events not consecutive");
			break;
		}
	free(evs);
	CU_ASSERT_EQUAL(store_read_events(s, 0, &evs, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	/* The ring survives a reopen and a republish. */
	store_close(s);
	CU_ASSERT_EQUAL_FATAL(store_open(&s, statedir, 0), 0);
	CU_ASSERT_EQUAL(publish_cfg(s, &t.cfg, 2, 1), 0);
	CU_ASSERT_EQUAL(store_peer_admin(s, "web", "127.0.0.1:80",
	    ADMIN_DISABLED, 1, T0, &ev, &ch), 0);
	CU_ASSERT_EQUAL(ev.seq, total + 1);
	CU_ASSERT_EQUAL(event_count(s), STORE_EVENTS_KEPT);
	done(s);
}

static void
test_corrupt(void)
{
	struct store	*s = fresh();
	struct tcfg	 t;
	char		 path[PATH_MAX], junk[16384];
	glob_t		 g;
	int		 fd;

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 1), 1, 1), 0);
	store_close(s);
	snprintf(path, sizeof(path), "%s/data.mdb", statedir);
	memset(junk, 0xa5, sizeof(junk));
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	CU_ASSERT_FATAL(fd != -1);
	CU_ASSERT_EQUAL(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);

	s = NULL;
	CU_ASSERT_EQUAL(store_open(&s, statedir, 0), MDB_INVALID);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(store_open(&s, statedir, STORE_RDONLY), MDB_INVALID);
	CU_ASSERT_EQUAL(store_open(&s, statedir, STORE_CREATE),
	    STORE_RECREATED);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	snprintf(path, sizeof(path), "%s/data.mdb.corrupt-*", statedir);
	CU_ASSERT_EQUAL(glob(path, 0, NULL, &g), 0);
	CU_ASSERT_EQUAL(g.gl_pathc, 1);
	globfree(&g);
	/* Usable and empty. */
	{
		struct store_meta	 m;
		struct store_peer	 p;

		CU_ASSERT_EQUAL(store_read_meta(s, &m), MDB_NOTFOUND);
		CU_ASSERT_EQUAL(publish_cfg(s, &t.cfg, 1, 1), 0);
		CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.1:80", &p), 0);
		CU_ASSERT_EQUAL(store_read_meta(s, &m), 0);
	}
	store_close(s);
	/* And fine on the next open. */
	CU_ASSERT_EQUAL(store_open(&s, statedir, STORE_CREATE), 0);
	done(s);
}

/* Another program's LMDB: refused at the master's open, left alone. */
static void
test_foreign(void)
{
	struct store	*s = NULL;
	MDB_env		*env;
	char		 path[PATH_MAX];
	glob_t		 g;

	tmp_make();
	CU_ASSERT_EQUAL_FATAL(mkdir(statedir, 0750), 0);
	env = raw_open();
	raw_put(env, "peer/web/127.0.0.1:80", "x", 1);	/* like ours */
	raw_put(env, "user:1234", "alice", 5);
	mdb_env_close(env);
	CU_ASSERT_EQUAL(store_open(&s, statedir, STORE_CREATE), STORE_FOREIGN);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(store_strerror(STORE_FOREIGN),
	    "another program"));
	snprintf(path, sizeof(path), "%s/data.mdb.corrupt-*", statedir);
	CU_ASSERT_EQUAL(glob(path, 0, NULL, &g), GLOB_NOMATCH);
	globfree(&g);
	env = raw_open();
	CU_ASSERT_EQUAL(raw_count(env), 2);
	mdb_env_close(env);
	tmp_remove();
}

/* data.mdb or lock.mdb as a link is never followed, nor a FIFO opened. */
static void
test_not_file(void)
{
	struct store	*s = fresh();
	char		 path[PATH_MAX], target[PATH_MAX];
	struct stat	 st;
	const char	*names[] = { "lock.mdb", "data.mdb" };
	int		 i, fd;

	store_close(s);
	snprintf(target, sizeof(target), "%s/target", tmpdir);
	fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd != -1);
	CU_ASSERT_EQUAL(write(fd, "keep", 4), 4);
	close(fd);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", statedir, names[i]);
		CU_ASSERT_EQUAL(unlink(path), 0);
		CU_ASSERT_EQUAL(symlink(target, path), 0);
		s = NULL;
		CU_ASSERT_EQUAL(store_open(&s, statedir, STORE_CREATE),
		    STORE_NOT_FILE);
		CU_ASSERT_EQUAL(store_open(&s, statedir, 0), STORE_NOT_FILE);
		CU_ASSERT_EQUAL(store_open(&s, statedir, STORE_RDONLY),
		    STORE_NOT_FILE);
		CU_ASSERT_PTR_NULL(s);
		CU_ASSERT_EQUAL(stat(target, &st), 0);
		CU_ASSERT_EQUAL(st.st_size, 4);
		CU_ASSERT_EQUAL(unlink(path), 0);
		CU_ASSERT_EQUAL(mkfifo(path, 0600), 0);
		CU_ASSERT_EQUAL(store_open(&s, statedir, 0), STORE_NOT_FILE);
		CU_ASSERT_EQUAL(unlink(path), 0);
	}
	/* Both gone: created afresh. */
	CU_ASSERT_EQUAL(store_open(&s, statedir, STORE_CREATE), 0);
	done(s);
}

static void
test_version_mismatch(void)
{
	struct store		*s = fresh();
	struct tcfg		 t;
	struct store_peer	 p, old;
	struct store_meta	 m;
	struct health_params	 hp = hp_make(1);
	MDB_env			*env;
	bool			 ch;

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 1), 1, 1), 0);
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.3:80", &hp,
	    FAIL_RESET, NULL, 1, T0, NULL, &ch), 0);
	CU_ASSERT_TRUE(ch);
	store_close(s);

	/* Plant records of another layout (one environment per process). */
	env = raw_open();
	memset(&old, 0, sizeof(old));
	old.version = STORE_LAYOUT_VERSION + 1;
	old.health = HEALTH_DOWN;
	old.consecutive_failures = 99;
	raw_put(env, "peer/web/127.0.0.1:80", &old, sizeof(old));
	old.version = STORE_LAYOUT_VERSION;
	raw_put(env, "peer/web/127.0.0.2:80", &old, sizeof(old) - 8);
	memset(&m, 0, sizeof(m));
	m.version = 0;
	raw_put(env, "meta", &m, sizeof(m));
	raw_put(env, "dir", "junk", 4);
	mdb_env_close(env);

	CU_ASSERT_EQUAL_FATAL(store_open(&s, statedir, 0), 0);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.1:80", &p), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.2:80", &p), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.1:80", &hp,
	    FAIL_RESET, NULL, 1, T0, NULL, &ch), MDB_NOTFOUND);
	CU_ASSERT_EQUAL(store_read_meta(s, &m), MDB_NOTFOUND);
	{
		struct store_dir_entry	*d;
		size_t			 n;

		CU_ASSERT_EQUAL(store_read_dir(s, &d, &n), MDB_NOTFOUND);
	}
	/* A publish replaces them with fresh ones, keeps the good one. */
	CU_ASSERT_EQUAL(publish_cfg(s, &t.cfg, 2, 1), 0);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.1:80", &p), 0);
	CU_ASSERT_EQUAL(p.version, STORE_LAYOUT_VERSION);
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(p.consecutive_failures, 0);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.2:80", &p), 0);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.3:80", &p), 0);
	CU_ASSERT_EQUAL(p.health, HEALTH_DOWN);
	CU_ASSERT_EQUAL(store_read_meta(s, &m), 0);
	CU_ASSERT_EQUAL(m.generation, 2);
	done(s);
}

/* ------------------------------------------------------------------ */
/* Several processes, each with its own environment opened after fork. */

#define NCHILD		6
#define NFAIL		25

struct children {
	pid_t	 pid[NCHILD];
	int	 go[2];		/* the parent closes go[1]: all start at once */
};

/* Fork n children running fn(i); none inherits an open environment. */
static void
spawn(struct children *c, int n, int (*fn)(int))
{
	char	 b;
	int	 i, rc;

	CU_ASSERT_EQUAL_FATAL(pipe2(c->go, O_CLOEXEC), 0);
	for (i = 0; i < n; i++) {
		c->pid[i] = fork();
		CU_ASSERT_FATAL(c->pid[i] != -1);
		if (c->pid[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			alarm(20);
			close(c->go[1]);
			while (read(c->go[0], &b, 1) == -1 && errno == EINTR)
				;
			rc = fn(i);
			_exit(rc);
		}
	}
	close(c->go[0]);
}

static void
release(struct children *c)
{
	close(c->go[1]);
}

/* Wait for n children; the sum of their exit codes, -1 on a crash. */
static int
reap(struct children *c, int n)
{
	int	 i, st, sum = 0;

	for (i = 0; i < n; i++) {
		if (waitpid(c->pid[i], &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) >= 100)
			sum = -1;
		else if (sum >= 0)
			sum += WEXITSTATUS(st);
	}
	return sum;
}

/* Exit codes: number of state changes seen (0..99), 100+ on error. */
static int
child_failures(int i)
{
	struct store		*s;
	struct health_params	 hp = hp_make(NCHILD * NFAIL);
	bool			 ch;
	int			 k, changes = 0;

	if (store_open(&s, statedir, 0) != 0)
		return 100;
	for (k = 0; k < NFAIL; k++) {
		if (store_peer_failure(s, "web", "127.0.0.1:80", &hp,
		    FAIL_CONNECT_REFUSED, "refused", (int32_t)getpid(),
		    T0 + (uint64_t)i, NULL, &ch) != 0) {
			store_close(s);
			return 101;
		}
		changes += ch;
	}
	store_close(s);
	return changes;
}

static int
child_claim(int i)
{
	struct store		*s;
	struct health_params	 hp = hp_make(1);
	bool			 won;
	int			 rc;

	(void)i;
	if (store_open(&s, statedir, 0) != 0)
		return 100;
	rc = store_peer_claim_probe(s, "web", "127.0.0.2:80", &hp,
	    (int32_t)getpid(), T0 + 5000, NULL, &won);
	store_close(s);
	return rc != 0 ? 101 : won;
}

static int
child_claim_trial(int i)
{
	struct store		*s;
	struct health_params	 hp = hp_make(1);
	bool			 won;
	int			 rc;

	(void)i;
	if (store_open(&s, statedir, 0) != 0)
		return 100;
	rc = store_peer_claim_trial(s, "web", "127.0.0.3:80", &hp,
	    (int32_t)getpid(), T0, &won);
	store_close(s);
	return rc != 0 ? 101 : won;
}

static void
test_multiprocess(void)
{
	struct store		*s = fresh();
	struct children		 c;
	struct tcfg		 t;
	struct store_peer	 p;
	struct health_params	 hp = hp_make(1);
	int			 sum, i;

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 1), 1, 1), 0);
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.2:80", &hp,
	    FAIL_CONNECT_REFUSED, NULL, 1, T0, NULL, NULL), 0);
	/* Never across fork: the master closes its handle first. */
	store_close(s);

	spawn(&c, NCHILD, child_failures);
	/* Open only after every child is forked. */
	CU_ASSERT_EQUAL_FATAL(store_open(&s, statedir, 0), 0);
	release(&c);
	sum = reap(&c, NCHILD);
	CU_ASSERT_EQUAL(sum, 1);		/* one ejection, seen once */
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.1:80", &p), 0);
	CU_ASSERT_EQUAL(p.consecutive_failures, NCHILD * NFAIL);
	CU_ASSERT_EQUAL(p.health, HEALTH_DOWN);
	CU_ASSERT_STRING_EQUAL(p.last_failure_detail, "refused");
	store_close(s);

	/* The recovery probe: one winner across all processes. */
	for (i = 0; i < 3; i++) {
		spawn(&c, NCHILD, child_claim);
		release(&c);
		sum = reap(&c, NCHILD);
		CU_ASSERT_EQUAL(sum, i == 0 ? 1 : 0);
	}
	CU_ASSERT_EQUAL_FATAL(store_open(&s, statedir, 0), 0);
	CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.2:80", &p), 0);
	CU_ASSERT_EQUAL(p.health, HEALTH_PROBING);
	CU_ASSERT_TRUE(p.probe_pid > 0);
	for (i = 0; i < NCHILD; i++)
		if (p.probe_pid == c.pid[i])
			CU_FAIL("a later round's child won the probe");
	CU_ASSERT_EQUAL(event_count(s), 3);	/* 2 ejections, 1 claim */
	store_close(s);

	/* A fresh peer's first connect: one trial across all processes. */
	spawn(&c, NCHILD, child_claim_trial);
	release(&c);
	CU_ASSERT_EQUAL(reap(&c, NCHILD), 1);
	CU_ASSERT_EQUAL_FATAL(store_open(&s, statedir, 0), 0);
	{
		int	 dead = -1;

		CU_ASSERT_EQUAL(store_reader_check(s, &dead), 0);
		CU_ASSERT_EQUAL(dead, 0);
	}
	done(s);
}

/*
 * Another process, with a larger map, grows the data past our map size:
 * our next transaction meets MDB_MAP_RESIZED, which the store handles by
 * adopting the new size.  Once for the write path, once for the read
 * path (renewing the reset request-path transaction).
 */
static int
child_grow(int i)
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k = { 3, "big" }, v;
	size_t		 size = STORE_MAP_SIZE + (1 << 20);

	(void)i;
	if (mdb_env_create(&env) != 0 ||
	    mdb_env_set_mapsize(env, STORE_MAP_SIZE * 2) != 0 ||
	    mdb_env_set_maxreaders(env, STORE_MAX_READERS) != 0 ||
	    mdb_env_open(env, statedir, MDB_NOTLS | MDB_WRITEMAP |
	    MDB_NOSYNC, 0640) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, NULL, 0, &dbi) != 0)
		return 100;
	v.mv_size = size;
	v.mv_data = NULL;
	if (mdb_put(txn, dbi, &k, &v, MDB_RESERVE) != 0)
		return 101;
	memset(v.mv_data, 0x11, size);
	if (mdb_txn_commit(txn) != 0)
		return 102;
	/* Give the space back: the file's high-water mark stays. */
	if (mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_del(txn, dbi, &k, NULL) != 0 || mdb_txn_commit(txn) != 0)
		return 103;
	mdb_env_close(env);
	return 0;
}

static void
test_map_resized(void)
{
	struct store		*s;
	struct children		 c;
	struct tcfg		 t;
	struct store_peer	 p;
	struct health_params	 hp = hp_make(5);
	int			 path;
	bool			 ch;

	for (path = 0; path < 2; path++) {
		s = fresh();
		CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 5), 1,
		    1), 0);
		store_close(s);
		spawn(&c, 1, child_grow);
		CU_ASSERT_EQUAL_FATAL(store_open(&s, statedir, 0), 0);
		/* The request-path transaction exists, reset. */
		CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.1:80", &p), 0);
		release(&c);
		CU_ASSERT_EQUAL(reap(&c, 1), 0);
		if (path == 0) {
			CU_ASSERT_EQUAL(store_peer_failure(s, "web",
			    "127.0.0.1:80", &hp, FAIL_RESET, NULL, 1, T0,
			    NULL, &ch), 0);
			CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.1:80", &p),
			    0);
			CU_ASSERT_EQUAL(p.consecutive_failures, 1);
		} else {
			CU_ASSERT_EQUAL(peer_get(s, "web", "127.0.0.1:80", &p),
			    0);
			CU_ASSERT_EQUAL(store_peer_failure(s, "web",
			    "127.0.0.1:80", &hp, FAIL_RESET, NULL, 1, T0,
			    NULL, &ch), 0);
		}
		CU_ASSERT_EQUAL(event_count(s), 0);
		done(s);
	}
}

/*
 * 140,000 peers overflow the first 64 MiB map (MDB_MAP_FULL): the publish
 * grows it; a handle opened before (a running worker) follows through
 * MDB_MAP_RESIZED, one opened after adopts the grown size and can write.
 */
#define BIGPEERS	140000

static void
test_map_full(void)
{
	struct store		*s = fresh(), *old = NULL, *later = NULL;
	struct shunt_config	 cfg;
	struct cfg_pool		 pool;
	struct cfg_peer		*peers;
	struct store_peer	 p;
	struct store_dir_entry	*d = NULL;
	struct health_params	 hp = hp_make(1);
	char			(*addrs)[24];
	size_t			 i, n = 0;
	bool			 ch;

	peers = calloc(BIGPEERS, sizeof(*peers));
	addrs = calloc(BIGPEERS, sizeof(*addrs));
	CU_ASSERT_FATAL(peers != NULL && addrs != NULL);
	memset(&cfg, 0, sizeof(cfg));
	memset(&pool, 0, sizeof(pool));
	pool.name = (char *)"big";
	pool.peers = peers;
	pool.npeers = BIGPEERS;
	pool.health.max_fails = 1;
	for (i = 0; i < BIGPEERS; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "10.%zu.%zu.%zu:80",
		    i >> 16 & 255, i >> 8 & 255, i & 255);
		peers[i].addr.text = addrs[i];
		peers[i].index = i;
		peers[i].pool = &pool;
		peers[i].weight = 1;
	}
	cfg.pools = &pool;
	cfg.npools = 1;

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&(struct tcfg){ 0 },
	    spec_a, 1), 1, 1), 0);
	CU_ASSERT_EQUAL_FATAL(store_open(&old, statedir, 0), 0);
	CU_ASSERT_EQUAL(publish_cfg(s, &cfg, 2, 1), 0);
	CU_ASSERT_EQUAL(store_read_dir(s, &d, &n), 0);
	CU_ASSERT_EQUAL(n, BIGPEERS);
	free(d);

	/* The handle opened on the small map before the growth. */
	CU_ASSERT_EQUAL(peer_get(old, "big", "10.2.34.15:80", &p), 0);
	CU_ASSERT_EQUAL(store_peer_failure(old, "big", "10.2.34.15:80", &hp,
	    FAIL_RESET, NULL, 1, T0, NULL, &ch), 0);
	CU_ASSERT_TRUE(ch);
	/* One opened after: the grown map, and writes that fit. */
	CU_ASSERT_EQUAL_FATAL(store_open(&later, statedir, 0), 0);
	CU_ASSERT_EQUAL(peer_get(later, "big", "10.2.34.15:80", &p), 0);
	CU_ASSERT_EQUAL(p.health, HEALTH_DOWN);
	for (i = 0; i < 2000; i++)
		CU_ASSERT_EQUAL(store_peer_failure(later, "big", addrs[i * 70],
		    &hp, FAIL_RESET, NULL, 2, T0, NULL, &ch), 0);
	/* And a republish of it all keeps the health. */
	CU_ASSERT_EQUAL(publish_cfg(s, &cfg, 3, 1), 0);
	CU_ASSERT_EQUAL(peer_get(s, "big", addrs[BIGPEERS - 70], &p), 0);
	CU_ASSERT_EQUAL(p.health, HEALTH_DOWN);
	store_close(old);
	store_close(later);
	free(peers);
	free(addrs);
	done(s);
}

/* A handle used after fork is refused in the child, not misused. */
static void
test_forked_handle(void)
{
	struct store	*s = fresh();
	struct tcfg	 t;
	pid_t		 pid;
	int		 st;

	CU_ASSERT_EQUAL(publish_cfg(s, tcfg_build(&t, spec_a, 1), 1, 1), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid != -1);
	if (pid == 0) {
		bool	 ch;
		int	 dead;

		alarm(10);
		if (store_peer_reset(s, "web", "127.0.0.1:80", 1, T0, NULL,
		    &ch) != STORE_FORKED ||
		    store_reader_check(s, &dead) != STORE_FORKED)
			_exit(1);
		store_close(s);		/* frees, leaves LMDB alone */
		_exit(0);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The parent's handle still works. */
	CU_ASSERT_EQUAL(publish_cfg(s, &t.cfg, 2, 1), 0);
	done(s);
}

int
main(void)
{
	CU_pSuite	 suite;

	umask(022);
	alarm(120);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	suite = CU_add_suite("store", NULL, NULL);
	CU_add_test(suite, "open, create, modes", test_open);
	CU_add_test(suite, "publish, meta, dir", test_publish);
	CU_add_test(suite, "republish keeps health", test_republish);
	CU_add_test(suite, "failure and success", test_failure_success);
	CU_add_test(suite, "probe claim", test_probe);
	CU_add_test(suite, "suspect and trial", test_suspect);
	CU_add_test(suite, "admin and reset", test_admin_reset);
	CU_add_test(suite, "counters batch", test_counters);
	CU_add_test(suite, "events ring", test_events_ring);
	CU_add_test(suite, "corrupt data file", test_corrupt);
	CU_add_test(suite, "layout version mismatch", test_version_mismatch);
	CU_add_test(suite, "another program's LMDB", test_foreign);
	CU_add_test(suite, "links and FIFOs are not opened", test_not_file);
	CU_add_test(suite, "several processes", test_multiprocess);
	CU_add_test(suite, "map grown by another process", test_map_resized);
	CU_add_test(suite, "handle across fork", test_forked_handle);
	CU_add_test(suite, "map full: grown, and adopted", test_map_full);
	return tap_run_registry();
}
