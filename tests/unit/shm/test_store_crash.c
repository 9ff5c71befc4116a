/*
 * test_store_crash.c: shm/store.c when a process dies with SIGKILL inside
 * an LMDB transaction (DEPENDENCIES.md, LMDB section).
 *
 * Each child opens its own environment after fork; the parent opens its
 * own only after forking, and keeps it open while the child is killed:
 * were the parent's closed, the next opener would find the lock file
 * unused and reinitialise it, and the test would prove nothing about
 * robust-mutex recovery or reader-slot reaping.
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

#define T0	1700000000000ULL

static char	 tmpdir[1024];
static char	 statedir[1100];

static void
tmp_make(void)
{
	tmpdir_make(tmpdir, sizeof(tmpdir), "test_store_crash");
	snprintf(statedir, sizeof(statedir), "%s/state", tmpdir);
}

static void
tmp_remove(void)
{
	tmpdir_remove(tmpdir);
}

static uint64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct health_params
hp_make(uint32_t max_fails)
{
	struct health_params	 hp;

	memset(&hp, 0, sizeof(hp));
	hp.max_fails = max_fails;
	hp.fail_timeout_ms = 1000;
	hp.probe_stale_ms = 5000;
	return hp;
}

/* A state dir with one published pool, and no handle left open. */
static void
setup(void)
{
	static const char	*addrs[] = { "127.0.0.11:80", "127.0.0.12:80" };
	struct shunt_config	 cfg;
	struct cfg_pool		 pool;
	struct cfg_peer		 peers[2];
	struct store		*s;
	size_t			 i;

	memset(&cfg, 0, sizeof(cfg));
	memset(&pool, 0, sizeof(pool));
	memset(peers, 0, sizeof(peers));
	for (i = 0; i < 2; i++) {
		peers[i].addr.text = (char *)addrs[i];
		peers[i].weight = 1;
		peers[i].index = i;
		peers[i].pool = &pool;
	}
	pool.name = "web";
	pool.peers = peers;
	pool.npeers = 2;
	pool.health.max_fails = 100;
	pool.health.fail_timeout_ms = 1000;
	cfg.pools = &pool;
	cfg.npools = 1;

	tmp_make();
	CU_ASSERT_EQUAL_FATAL(store_open(&s, statedir, STORE_CREATE), 0);
	CU_ASSERT_EQUAL_FATAL(publish_cfg(s, &cfg, 1, getpid()), 0);
	store_close(s);
}

struct child {
	pid_t	 pid;
	int	 go[2];		/* parent -> child: start */
	int	 ready[2];	/* child -> parent: in the transaction */
};

/* Fork a child that waits for go, runs fn, and never returns. */
static void
spawn(struct child *c, void (*fn)(struct child *))
{
	char	 b;

	CU_ASSERT_EQUAL_FATAL(pipe2(c->go, O_CLOEXEC), 0);
	CU_ASSERT_EQUAL_FATAL(pipe2(c->ready, O_CLOEXEC), 0);
	c->pid = fork();
	CU_ASSERT_FATAL(c->pid != -1);
	if (c->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(20);
		close(c->go[1]);
		close(c->ready[0]);
		while (read(c->go[0], &b, 1) == -1 && errno == EINTR)
			;
		fn(c);
		_exit(0);
	}
	close(c->go[0]);
	close(c->ready[1]);
}

static void
child_ready(struct child *c)
{
	char	 b = 'r';

	if (write(c->ready[1], &b, 1) != 1)
		_exit(3);
}

/* Let the child run; 1 when it said it is ready, 0 if it exited first. */
static int
release_and_wait(struct child *c)
{
	char	 b;
	ssize_t	 n;

	close(c->go[1]);
	while ((n = read(c->ready[0], &b, 1)) == -1 && errno == EINTR)
		;
	close(c->ready[0]);
	return n == 1;
}

static void
kill_child(struct child *c)
{
	int	 st;

	kill(c->pid, SIGKILL);
	CU_ASSERT_EQUAL(waitpid(c->pid, &st, 0), c->pid);
	CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/*
 * Raw LMDB with the store's flags: begin a write transaction, change a
 * peer record and add one, and die before commit.
 */
static void
child_writer(struct child *c)
{
	struct store_peer	 p;
	MDB_env			*env;
	MDB_txn			*txn;
	MDB_dbi			 dbi;
	MDB_val			 k, v;
	int			 i;

	if (mdb_env_create(&env) != 0 ||
	    mdb_env_set_mapsize(env, STORE_MAP_SIZE) != 0 ||
	    mdb_env_set_maxreaders(env, STORE_MAX_READERS) != 0 ||
	    mdb_env_open(env, statedir, MDB_NOTLS | MDB_WRITEMAP |
	    MDB_NOSYNC, STORE_FILE_MODE) != 0 ||
	    mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
	    mdb_dbi_open(txn, NULL, 0, &dbi) != 0)
		_exit(2);
	k.mv_data = "peer/web/127.0.0.11:80";
	k.mv_size = strlen(k.mv_data);
	if (mdb_get(txn, dbi, &k, &v) != 0 || v.mv_size != sizeof(p))
		_exit(2);
	memcpy(&p, v.mv_data, sizeof(p));
	p.consecutive_failures = 777;
	p.health = HEALTH_DOWN;
	v.mv_data = &p;
	if (mdb_put(txn, dbi, &k, &v, 0) != 0)
		_exit(2);
	/* Enough to dirty several pages. */
	for (i = 0; i < 200; i++) {
		char	 key[64];

		snprintf(key, sizeof(key), "peer/web/ghost-%d:1", i);
		k.mv_data = key;
		k.mv_size = strlen(key);
		if (mdb_put(txn, dbi, &k, &v, 0) != 0)
			_exit(2);
	}
	child_ready(c);
	for (;;)
		pause();
}

static void
test_writer_killed(void)
{
	struct child		 c;
	struct store		*s;
	struct store_peer	 p;
	struct health_params	 hp = hp_make(100);
	uint64_t		 t;
	bool			 ch;

	setup();
	spawn(&c, child_writer);
	/* Open after fork, and hold it while the child dies. */
	CU_ASSERT_EQUAL_FATAL(store_open(&s, statedir, 0), 0);
	CU_ASSERT_FATAL(release_and_wait(&c));
	kill_child(&c);

	t = mono_ms();
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.11:80", &hp,
	    FAIL_RESET, NULL, getpid(), T0, NULL, &ch), 0);
	CU_ASSERT_TRUE(mono_ms() - t < 1000);
	CU_ASSERT_FALSE(ch);
	CU_ASSERT_EQUAL(store_read_begin(s), 0);
	CU_ASSERT_EQUAL(store_peer_get(s, "web", "127.0.0.11:80", &p), 0);
	CU_ASSERT_EQUAL(p.consecutive_failures, 1);	/* not 778 */
	CU_ASSERT_EQUAL(p.health, HEALTH_UP);
	CU_ASSERT_EQUAL(store_peer_get(s, "web", "ghost-0:1", &p),
	    MDB_NOTFOUND);
	CU_ASSERT_EQUAL(store_peer_get(s, "web", "ghost-199:1", &p),
	    MDB_NOTFOUND);
	store_read_end(s);
	/* And the writer after it too. */
	CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.11:80", &hp,
	    FAIL_RESET, NULL, getpid(), T0, NULL, &ch), 0);
	CU_ASSERT_EQUAL(store_read_begin(s), 0);
	CU_ASSERT_EQUAL(store_peer_get(s, "web", "127.0.0.11:80", &p), 0);
	CU_ASSERT_EQUAL(p.consecutive_failures, 2);
	store_read_end(s);
	store_close(s);
	tmp_remove();
}

/* A worker in a read transaction when it dies. */
static void
child_reader(struct child *c)
{
	struct store		*s;
	struct store_peer	 p;

	if (store_open(&s, statedir, 0) != 0 || store_read_begin(s) != 0 ||
	    store_peer_get(s, "web", "127.0.0.11:80", &p) != 0)
		_exit(2);
	child_ready(c);
	for (;;)
		pause();
}

static void
test_reader_killed(void)
{
	struct child	 c;
	struct store	*s;
	int		 dead = -1;

	setup();
	spawn(&c, child_reader);
	CU_ASSERT_EQUAL_FATAL(store_open(&s, statedir, 0), 0);
	CU_ASSERT_EQUAL(store_reader_check(s, &dead), 0);
	CU_ASSERT_EQUAL(dead, 0);
	CU_ASSERT_FATAL(release_and_wait(&c));
	kill_child(&c);
	CU_ASSERT_EQUAL(store_reader_check(s, &dead), 0);
	CU_ASSERT_TRUE(dead >= 1);
	CU_ASSERT_EQUAL(store_reader_check(s, &dead), 0);
	CU_ASSERT_EQUAL(dead, 0);
	store_close(s);
	tmp_remove();
}

/* A worker writing through the store in a loop, killed wherever it is. */
static void
child_loop(struct child *c)
{
	struct store		*s;
	struct health_params	 hp = hp_make(UINT32_MAX);
	struct store_counter	 cnt = { "web", "127.0.0.12:80", 1, 1 };
	bool			 ch;

	if (store_open(&s, statedir, 0) != 0)
		_exit(2);
	child_ready(c);
	for (;;) {
		if (store_peer_failure(s, "web", "127.0.0.12:80", &hp,
		    FAIL_RESET, "loop", getpid(), T0, NULL, &ch) != 0 ||
		    store_add_counters(s, &cnt, 1) != 0 ||
		    store_peer_admin(s, "web", "127.0.0.11:80",
		    ADMIN_DRAINING, getpid(), T0, NULL, &ch) != 0 ||
		    store_peer_admin(s, "web", "127.0.0.11:80",
		    ADMIN_NONE, getpid(), T0, NULL, &ch) != 0)
			_exit(2);
	}
}

static void
test_loop_killed(void)
{
	struct child		 c;
	struct store		*s;
	struct store_peer	 p, q;
	struct store_event	*evs;
	struct health_params	 hp = hp_make(UINT32_MAX);
	size_t			 n, i;
	uint64_t		 t;
	int			 round, dead;
	bool			 ch;

	setup();
	for (round = 0; round < 5; round++) {
		spawn(&c, child_loop);
		CU_ASSERT_EQUAL_FATAL(store_open(&s, statedir, 0), 0);
		CU_ASSERT_FATAL(release_and_wait(&c));
		usleep(20000 + 7000 * round);
		kill_child(&c);

		t = mono_ms();
		CU_ASSERT_EQUAL(store_reader_check(s, &dead), 0);
		CU_ASSERT_EQUAL(store_read_begin(s), 0);
		CU_ASSERT_EQUAL(store_peer_get(s, "web", "127.0.0.12:80", &p),
		    0);
		store_read_end(s);
		CU_ASSERT_EQUAL(store_peer_failure(s, "web", "127.0.0.12:80",
		    &hp, FAIL_RESET, NULL, getpid(), T0, NULL, &ch), 0);
		CU_ASSERT_TRUE(mono_ms() - t < 1000);
		CU_ASSERT_EQUAL(store_read_begin(s), 0);
		CU_ASSERT_EQUAL(store_peer_get(s, "web", "127.0.0.12:80", &q),
		    0);
		store_read_end(s);
		CU_ASSERT_EQUAL(q.consecutive_failures,
		    p.consecutive_failures + 1);
		CU_ASSERT_TRUE(p.consecutive_failures > 0);
		/* The ring is whole: consecutive, bounded. */
		CU_ASSERT_EQUAL(store_read_events(s, SIZE_MAX, &evs, &n), 0);
		CU_ASSERT_TRUE(n > 0 && n <= STORE_EVENTS_KEPT);
		for (i = 1; i < n; i++)
			if (evs[i].seq != evs[i - 1].seq + 1) {
				CU_FAIL("events ring has a hole");
				break;
			}
		free(evs);
		store_close(s);
	}
	tmp_remove();
}

int
main(void)
{
	CU_pSuite	 suite;

	umask(022);
	alarm(60);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	suite = CU_add_suite("store crash", NULL, NULL);
	CU_add_test(suite, "writer killed before commit", test_writer_killed);
	CU_add_test(suite, "reader killed in a read txn", test_reader_killed);
	CU_add_test(suite, "worker killed while writing", test_loop_killed);
	return tap_run_registry();
}
