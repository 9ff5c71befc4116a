/*
 * state.c: the master's short visits to the health store.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privs.h"
#include "state.h"
#include "store.h"

/*
 * Is the store in dir gone, wholly or half (rm -rf, a cleaner)?  Running
 * workers keep the files they have open, so a new pair can be made
 * beside them; but never one file new and one old, or two lock files
 * would guard one data file.
 */
static bool
state_store_gone(const char *dir)
{
	char	 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return true;
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	return access(path, F_OK) == -1 && errno == ENOENT;
}

/* The survivor of a half-removed store: the running workers keep it. */
static void
state_store_clear(const char *dir)
{
	char	 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("cannot remove %s", path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("cannot remove %s", path);
}

struct store_dir_entry *
state_dir_entries(const struct shunt_config *cfg, size_t *n)
{
	struct store_dir_entry	*ents, *e;
	const struct cfg_pool	*pool;
	const struct cfg_peer	*peer;
	size_t			 i, j, total = 0;

	for (i = 0; i < cfg->npools; i++)
		total += cfg->pools[i].npeers;
	if ((ents = calloc(total ? total : 1, sizeof(*ents))) == NULL)
		return NULL;
	e = ents;
	for (i = 0; i < cfg->npools; i++) {
		pool = &cfg->pools[i];
		for (j = 0; j < pool->npeers; j++, e++) {
			peer = &pool->peers[j];
			/* Too long for the store: the store says EINVAL. */
			if (strlen(pool->name) < sizeof(e->pool))
				memcpy(e->pool, pool->name,
				    strlen(pool->name) + 1);
			if (strlen(peer->addr.text) < sizeof(e->addr))
				memcpy(e->addr, peer->addr.text,
				    strlen(peer->addr.text) + 1);
			e->pool_index = (uint32_t)i;
			e->peer_index = (uint32_t)j;
			e->max_fails = pool->health.max_fails > UINT32_MAX ?
			    UINT32_MAX : (uint32_t)pool->health.max_fails;
			e->weight = peer->weight > UINT32_MAX ? UINT32_MAX :
			    (uint32_t)peer->weight;
			e->fail_timeout_ms = pool->health.fail_timeout_ms;
			if (peer->backup)
				e->flags |= STORE_DIR_BACKUP;
			if (peer->tls)
				e->flags |= STORE_DIR_TLS;
		}
	}
	*n = total;
	return ents;
}

static int
state_publish_store(const struct shunt_config *cfg, uint64_t generation,
    bool live, char *err, size_t errlen)
{
	struct store		*s;
	struct store_dir_entry	*ents;
	size_t			 n;
	int			 rc, dead = 0;

	if (live && state_store_gone(cfg->state_dir)) {
		log_warnx("health store in %s was removed: creating it afresh; "
		    "every peer starts up", cfg->state_dir);
		state_store_clear(cfg->state_dir);
		live = false;
	}
	rc = store_open(&s, cfg->state_dir, live ? 0 : STORE_CREATE);
	if (rc == STORE_RECREATED) {
		log_warnx("health store %s/data.mdb was unreadable (not LMDB, "
		    "corrupt, or of another LMDB version): moved aside to "
		    "data.mdb.corrupt-* and recreated; every peer starts up",
		    cfg->state_dir);
		rc = 0;
	}
	if (rc != 0) {
		snprintf(err, errlen, "cannot open the health store "
		    "%s/data.mdb: %s", cfg->state_dir, store_strerror(rc));
		return -1;
	}
	/* Readers of a previous master's workers that died with it. */
	(void)store_reader_check(s, &dead);
	if ((ents = state_dir_entries(cfg, &n)) == NULL)
		rc = ENOMEM;
	else
		rc = store_publish(s, ents, n, (uint32_t)cfg->npools,
		    generation, (int32_t)getpid());
	free(ents);
	store_close(s);
	if (rc != 0) {
		snprintf(err, errlen, "cannot publish to the health store in "
		    "%s: %s", cfg->state_dir, store_strerror(rc));
		return -1;
	}
	return 0;
}

int
state_publish(const struct shunt_config *cfg, const struct privs *privs,
    uint64_t generation, bool live, char *err, size_t errlen)
{
	int	 rc;

	/* What exists must be the worker user's before it opens it. */
	if (privs_own_store(privs, cfg->state_dir, true, err, errlen) == -1)
		return -1;
	if (privs_enter(privs) == -1) {
		snprintf(err, errlen, "cannot take the worker user's rights to "
		    "open the health store: %s", strerror(errno));
		return -1;
	}
	rc = state_publish_store(cfg, generation, live, err, errlen);
	privs_leave(privs);
	return rc;
}

static void
state_workers_store(const struct shunt_config *cfg, const int32_t *pids,
    unsigned n)
{
	struct store	*s;
	int		 rc, dead = 0;

	if ((rc = store_open(&s, cfg->state_dir, 0)) != 0) {
		log_warnx("health store in %s: %s", cfg->state_dir,
		    store_strerror(rc));
		return;
	}
	if ((rc = store_reader_check(s, &dead)) != 0)
		log_warnx("health store reader check: %s", store_strerror(rc));
	else if (dead > 0)
		log_info("health store: cleared %d reader slots of dead "
		    "workers", dead);
	if ((rc = store_set_workers(s, pids, n)) != 0)
		log_warnx("health store: cannot record worker pids: %s",
		    store_strerror(rc));
	store_close(s);
}

void
state_workers(const struct shunt_config *cfg, const struct privs *privs,
    const int32_t *pids, unsigned n)
{
	if (privs_enter(privs) == -1) {
		log_warn("health store: cannot take the worker user's rights");
		return;
	}
	state_workers_store(cfg, pids, n);
	privs_leave(privs);
}

/* The pid a running master wrote into its lock file; -1 when unknown. */
static long
state_lock_pid(int fd)
{
	char	 buf[32], *end;
	ssize_t	 n;
	long	 pid;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return end != buf && pid > 0 ? pid : -1;
}

static int
state_lock_open(const char *dir, const char *path, char *err,
    size_t errlen)
{
	struct stat	 st;
	int		 fd, rc;

	if ((rc = store_make_dir(dir)) != 0) {
		snprintf(err, errlen, "cannot create state_dir %s: %s", dir,
		    strerror(rc));
		return -1;
	}
	/* In a directory the worker user owns: no link, no FIFO. */
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC, 0644);
	if (fd == -1) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    errno == ELOOP ? "it is a symbolic link" :
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1) {
		snprintf(err, errlen, "cannot use %s as a lock: not a regular "
		    "file of its own", path);
		close(fd);
		return -1;
	}
	return fd;
}

int
state_lock(const char *dir, int *fdp, char *err, size_t errlen)
{
	char	 path[PATH_MAX];
	long	 pid;
	int	 fd;

	*fdp = -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
	    STATE_LOCK_FILE) >= sizeof(path)) {
		snprintf(err, errlen, "state_dir %s: path too long", dir);
		return -1;
	}
	if ((fd = state_lock_open(dir, path, err, errlen)) == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK && (pid = state_lock_pid(fd)) != -1)
			snprintf(err, errlen, "state_dir %s is in use by shunt "
			    "master %ld (%s)", dir, pid, path);
		else if (errno == EWOULDBLOCK)
			snprintf(err, errlen, "state_dir %s is in use by "
			    "another shunt master (%s)", dir, path);
		else
			snprintf(err, errlen, "cannot lock %s: %s", path,
			    strerror(errno));
		close(fd);
		return -1;
	}
	state_lock_note_pid(fd);
	*fdp = fd;
	return 0;
}

void
state_lock_note_pid(int fd)
{
	char	 buf[32];
	int	 n;

	if (fd == -1)
		return;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_warn("cannot note the master's pid in %s",
		    STATE_LOCK_FILE);
}

bool
state_lock_current(int fd, const char *dir)
{
	char		 path[PATH_MAX];
	struct stat	 a, b;

	if (fd == -1 || (size_t)snprintf(path, sizeof(path), "%s/%s", dir,
	    STATE_LOCK_FILE) >= sizeof(path))
		return false;
	return fstat(fd, &a) == 0 && lstat(path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

void
state_unlock(int fd)
{
	if (fd != -1)
		close(fd);
}
