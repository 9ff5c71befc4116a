/*
 * store.c: the shared health store on LMDB (see store.h).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "clock.h"
#include "health.h"
#include "store.h"

_Static_assert(sizeof(struct store_peer) % 8 == 0, "store_peer padding");
_Static_assert(sizeof(struct store_event) % 8 == 0, "store_event padding");
_Static_assert(sizeof(struct store_meta) % 8 == 0, "store_meta padding");
_Static_assert(sizeof(struct store_dir_head) == 24, "store_dir_head size");
_Static_assert(sizeof(struct store_dir_entry) == 160, "store_dir_entry size");

/*
 * The same flags in every process: mixing MDB_WRITEMAP with processes
 * without it is not supported.  MDB_NOTLS because a thread may hold the
 * request-path read transaction and a reader's own at once, and so that
 * reset/renew keeps the reader slot.  MDB_NOSYNC: the store holds
 * runtime health, not data; a process crash loses nothing committed
 * (the pages are in the shared map, the OS writes them back), only an
 * OS crash can lose the last commits, and then the health is stale
 * anyway.  It makes a commit ~1 us instead of ~360 us with fsync, which
 * matters since a worker commits from its event loop.  STORE_RDONLY
 * adds MDB_RDONLY, for which LMDB drops MDB_WRITEMAP: only writers must
 * agree on it.
 */
#define STORE_ENV_FLAGS	(MDB_NOTLS | MDB_WRITEMAP | MDB_NOSYNC)

#define STORE_KEY_MAX	(sizeof("peer/") + STORE_NAME_MAX + STORE_ADDR_MAX)
#define STORE_EVENT_PFX	"event/"
#define STORE_PEER_PFX	"peer/"
#define STORE_SEQ_DIGITS 16

struct store {
	MDB_env		*env;
	MDB_dbi		 dbi;
	MDB_txn		*rtxn;		/* the request path's */
	int		 ractive;
	int		 rdonly;
	pid_t		 pid;		/* the opener */
};

int
store_make_dir(const char *dir)
{
	char		 path[PATH_MAX], *p;
	struct stat	 st;
	size_t		 len;

	len = strlen(dir);
	if (len == 0)
		return EINVAL;
	if (len >= sizeof(path))
		return ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		if (p[-1] != '/') {
			char c = *p;

			*p = '\0';
			if (mkdir(path, STORE_DIR_MODE) == -1 &&
			    errno != EEXIST)
				return errno;
			*p = c;
		}
		if (*p == '\0')
			break;
	}
	if (stat(dir, &st) == -1)
		return errno;
	return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

static int
store_is_corrupt(int rc)
{
	return rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ||
	    rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND;
}

/* A key of store.h's list, of this layout version or any other. */
static bool
store_key_ours(const MDB_val *k)
{
	static const char *const pfx[] = { "event/", "peer/" };
	static const char *const names[] = { "meta", "dir" };
	size_t	 i, len;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (k->mv_size == strlen(names[i]) &&
		    memcmp(k->mv_data, names[i], k->mv_size) == 0)
			return true;
	for (i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++) {
		len = strlen(pfx[i]);
		if (k->mv_size > len && memcmp(k->mv_data, pfx[i], len) == 0)
			return true;
	}
	return false;
}

/*
 * Walk every record once: a damaged tree shows as MDB_CORRUPTED or
 * MDB_PAGE_NOTFOUND here, at the master's start, rather than later in a
 * worker; a key no shunt writes says the environment is another
 * program's (state_dir pointed at the wrong directory), which is not
 * ours to move aside or to add to.
 */
static int
store_walk(MDB_txn *txn, MDB_dbi dbi)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc;

	if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
		if (!store_key_ours(&k)) {
			rc = STORE_FOREIGN;
			break;
		}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Every process maps the store alike: the largest size any of them ever
 * set, which LMDB keeps in the file (a commit persists a map grown by
 * store_grow()), and never less than STORE_MAP_SIZE.  A process opening
 * with less than the data would otherwise find the map full at once.
 */
static int
store_adopt_map(MDB_env *env)
{
	MDB_envinfo	 info;
	int		 rc;

	if ((rc = mdb_env_set_mapsize(env, 0)) != 0 ||
	    (rc = mdb_env_info(env, &info)) != 0)
		return rc;
	if (info.me_mapsize < STORE_MAP_SIZE)
		rc = mdb_env_set_mapsize(env, STORE_MAP_SIZE);
	return rc;
}

/*
 * A write found the map full (a very large config): double it, up to
 * STORE_MAP_SIZE_MAX, for the caller to run its transaction again.  Not
 * while the request-path read transaction is active: the remap would
 * pull its pages away.  The new size reaches the file with the next
 * commit; other processes adopt it on MDB_MAP_RESIZED.
 */
static int
store_grow(struct store *s)
{
	MDB_envinfo	 info;
	int		 rc;

	if (s->ractive)
		return MDB_MAP_FULL;
	if ((rc = mdb_env_info(s->env, &info)) != 0)
		return rc;
	if (info.me_mapsize >= STORE_MAP_SIZE_MAX)
		return MDB_MAP_FULL;
	return mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
}

static int
store_open_env(struct store *s, const char *dir, int flags)
{
	MDB_txn		*txn;
	mdb_filehandle_t fd;
	unsigned	 eflags = STORE_ENV_FLAGS;
	int		 rc;

	if (flags & STORE_RDONLY)
		eflags |= MDB_RDONLY;
	if ((rc = mdb_env_create(&s->env)) != 0)
		return rc;
	if ((rc = mdb_env_set_mapsize(s->env, STORE_MAP_SIZE)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, STORE_MAX_READERS)) != 0 ||
	    (rc = mdb_env_open(s->env, dir, eflags, STORE_FILE_MODE)) != 0)
		goto fail;
	/*
	 * LMDB 0.9.24 opens lock.mdb close-on-exec but not data.mdb (with
	 * MDB_WRITEMAP there is no separate meta descriptor).
	 */
	if ((rc = mdb_env_get_fd(s->env, &fd)) != 0)
		goto fail;
	if (fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC) == -1) {
		rc = errno;
		goto fail;
	}
	if ((rc = store_adopt_map(s->env)) != 0)
		goto fail;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		goto fail;
	rc = mdb_dbi_open(txn, NULL, 0, &s->dbi);
	if (rc == 0 && (flags & STORE_CREATE))
		rc = store_walk(txn, s->dbi);
	mdb_txn_abort(txn);
	if (rc != 0)
		goto fail;
	return 0;
fail:
	mdb_env_close(s->env);
	s->env = NULL;
	return rc;
}

/*
 * LMDB opens its files by name, following links, and as the first user
 * of a lock file truncates and rewrites it.  The worker user owns the
 * directory: a lock.mdb it made a link to /etc/passwd would have a root
 * master or a root shuntctl overwrite that.  A missing file is fine
 * (LMDB creates it).
 */
static int
store_check_files(const char *dir)
{
	static const char *const names[] = { "data.mdb", "lock.mdb" };
	char		 path[PATH_MAX];
	struct stat	 st;
	size_t		 i;
	int		 n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (n < 0 || (size_t)n >= sizeof(path))
			return ENAMETOOLONG;
		if (lstat(path, &st) == -1) {
			if (errno == ENOENT)
				continue;
			return errno;
		}
		if (!S_ISREG(st.st_mode))
			return STORE_NOT_FILE;
	}
	return 0;
}

/* Move a data file LMDB refused out of the way, keeping it for study. */
static int
store_move_aside(const char *dir)
{
	char	 from[PATH_MAX], to[PATH_MAX];
	int	 n;

	n = snprintf(from, sizeof(from), "%s/data.mdb", dir);
	if (n < 0 || (size_t)n >= sizeof(from))
		return ENAMETOOLONG;
	n = snprintf(to, sizeof(to), "%s/data.mdb.corrupt-%lld", dir,
	    (long long)time(NULL));
	if (n < 0 || (size_t)n >= sizeof(to))
		return ENAMETOOLONG;
	if (access(to, F_OK) == 0) {
		n = snprintf(to, sizeof(to), "%s/data.mdb.corrupt-%lld-%ld",
		    dir, (long long)time(NULL), (long)getpid());
		if (n < 0 || (size_t)n >= sizeof(to))
			return ENAMETOOLONG;
	}
	if (rename(from, to) == -1)
		return errno;
	return 0;
}

int
store_open(struct store **out, const char *dir, int flags)
{
	struct store	*s;
	char		 path[PATH_MAX];
	int		 rc, n, result = 0;

	*out = NULL;
	if (dir == NULL || (flags & ~(STORE_CREATE | STORE_RDONLY)) != 0 ||
	    ((flags & STORE_CREATE) && (flags & STORE_RDONLY)))
		return EINVAL;
	if (flags & STORE_CREATE) {
		if ((rc = store_make_dir(dir)) != 0)
			return rc;
	} else {
		/* LMDB would create the files in any existing directory. */
		n = snprintf(path, sizeof(path), "%s/data.mdb", dir);
		if (n < 0 || (size_t)n >= sizeof(path))
			return ENAMETOOLONG;
		if (access(path, F_OK) == -1)
			return errno;
	}
	if ((rc = store_check_files(dir)) != 0)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ENOMEM;
	s->pid = getpid();
	s->rdonly = (flags & STORE_RDONLY) != 0;
	rc = store_open_env(s, dir, flags);
	if (rc != 0 && store_is_corrupt(rc) && (flags & STORE_CREATE)) {
		if ((rc = store_move_aside(dir)) == 0 &&
		    (rc = store_open_env(s, dir, flags)) == 0)
			result = STORE_RECREATED;
	}
	if (rc != 0) {
		free(s);
		return rc;
	}
	*out = s;
	return result;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	/*
	 * An inherited handle: closing the environment here would drop the
	 * opener's locks and reader slots.  Leak it instead.
	 */
	if (s->pid != getpid()) {
		free(s);
		return;
	}
	if (s->rtxn != NULL)
		mdb_txn_abort(s->rtxn);
	mdb_env_close(s->env);
	free(s);
}

const char *
store_strerror(int rc)
{
	switch (rc) {
	case STORE_RECREATED:
		return "store data file was corrupt: moved aside and recreated";
	case STORE_FORKED:
		return "store handle used in another process than its opener";
	case STORE_FOREIGN:
		return "data.mdb is an LMDB environment of another program "
		    "(keys no shunt writes): point state_dir elsewhere, or "
		    "remove it";
	case STORE_NOT_FILE:
		return "data.mdb or lock.mdb is a symbolic link or not a "
		    "regular file: refusing to open it";
	default:
		return mdb_strerror(rc);
	}
}

int
store_reader_check(struct store *s, int *dead)
{
	int	 n = 0, rc;

	if (s->pid != getpid())
		return STORE_FORKED;
	rc = mdb_reader_check(s->env, &n);
	if (dead != NULL)
		*dead = n;
	return rc;
}

/*
 * Begin a transaction.  Another process may have grown the map past
 * ours (MDB_MAP_RESIZED): adopt its size and try once more, unless the
 * request-path read transaction is active, which a remap would pull the
 * pages from under.
 */
static int
store_txn_begin(struct store *s, unsigned flags, MDB_txn **txn)
{
	int	 rc;

	if (s->pid != getpid())
		return STORE_FORKED;
	if (!(flags & MDB_RDONLY) && s->rdonly)
		return EACCES;
	rc = mdb_txn_begin(s->env, NULL, flags, txn);
	if (rc == MDB_MAP_RESIZED && !s->ractive &&
	    (rc = mdb_env_set_mapsize(s->env, 0)) == 0)
		rc = mdb_txn_begin(s->env, NULL, flags, txn);
	return rc;
}

static int
store_peer_key(char *buf, const char *pool, const char *addr, MDB_val *key)
{
	size_t	 pl, al;

	pl = strlen(pool);
	al = strlen(addr);
	if (pl == 0 || pl >= STORE_NAME_MAX || al == 0 ||
	    al >= STORE_ADDR_MAX)
		return EINVAL;
	memcpy(buf, STORE_PEER_PFX, sizeof(STORE_PEER_PFX) - 1);
	key->mv_size = sizeof(STORE_PEER_PFX) - 1;
	memcpy(buf + key->mv_size, pool, pl);
	key->mv_size += pl;
	buf[key->mv_size++] = '/';
	memcpy(buf + key->mv_size, addr, al);
	key->mv_size += al;
	buf[key->mv_size] = '\0';
	key->mv_data = buf;
	return 0;
}

/* Copy a record out if it is of this layout (values need not be aligned). */
static int
store_copy(const MDB_val *v, void *out, size_t size)
{
	uint32_t	 version;

	if (v->mv_size != size || size < sizeof(version))
		return MDB_NOTFOUND;
	memcpy(&version, v->mv_data, sizeof(version));
	if (version != STORE_LAYOUT_VERSION)
		return MDB_NOTFOUND;
	memcpy(out, v->mv_data, size);
	return 0;
}

static int
store_get_peer(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, struct store_peer *p)
{
	MDB_val	 v;
	int	 rc;

	if ((rc = mdb_get(txn, dbi, key, &v)) != 0)
		return rc;
	return store_copy(&v, p, sizeof(*p));
}

static int
store_has_prefix(const MDB_val *k, const char *pfx, size_t len)
{
	return k->mv_size >= len && memcmp(k->mv_data, pfx, len) == 0;
}

/* The sequence number of an "event/<16 hex>" key; 0 when malformed. */
static uint64_t
store_event_seq(const MDB_val *k)
{
	const char	*p = (const char *)k->mv_data;
	uint64_t	 seq = 0;
	size_t		 i, off = sizeof(STORE_EVENT_PFX) - 1;
	int		 d;

	if (k->mv_size != off + STORE_SEQ_DIGITS)
		return 0;
	for (i = off; i < k->mv_size; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (p[i] >= 'a' && p[i] <= 'f')
			d = p[i] - 'a' + 10;
		else
			return 0;
		seq = seq << 4 | (uint64_t)d;
	}
	return seq;
}

/*
 * Put the cursor on the newest event: the last key below "event0"
 * ('0' follows '/'), which sorts before "meta" and "peer/...".
 */
static int
store_event_last(MDB_cursor *c, MDB_val *k, MDB_val *v)
{
	int	 rc;

	k->mv_data = (void *)"event0";
	k->mv_size = sizeof("event0") - 1;
	rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	if (rc == 0)
		rc = mdb_cursor_get(c, k, v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(c, k, v, MDB_LAST);
	if (rc == 0 && !store_has_prefix(k, STORE_EVENT_PFX,
	    sizeof(STORE_EVENT_PFX) - 1))
		rc = MDB_NOTFOUND;
	return rc;
}

/* Append ev to the ring (seq and version filled in), trim the oldest. */
static int
store_event_append(struct store *s, MDB_txn *txn, struct store_event *ev)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	char		 kbuf[sizeof(STORE_EVENT_PFX) + STORE_SEQ_DIGITS];
	uint64_t	 last = 0, limit;
	int		 rc;

	if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
		return rc;
	rc = store_event_last(c, &k, &v);
	if (rc == 0)
		last = store_event_seq(&k);
	else if (rc != MDB_NOTFOUND)
		goto out;
	ev->version = STORE_LAYOUT_VERSION;
	ev->seq = last + 1;
	snprintf(kbuf, sizeof(kbuf), STORE_EVENT_PFX "%016" PRIx64, ev->seq);
	k.mv_data = kbuf;
	k.mv_size = sizeof(kbuf) - 1;
	v.mv_data = ev;
	v.mv_size = sizeof(*ev);
	if ((rc = mdb_put(txn, s->dbi, &k, &v, 0)) != 0)
		goto out;
	if (ev->seq <= STORE_EVENTS_KEPT)
		goto out;
	limit = ev->seq - STORE_EVENTS_KEPT;
	/* Usually one to drop; seek afresh after each delete. */
	for (;;) {
		k.mv_data = (void *)STORE_EVENT_PFX;
		k.mv_size = sizeof(STORE_EVENT_PFX) - 1;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc != 0)
			break;
		if (!store_has_prefix(&k, STORE_EVENT_PFX,
		    sizeof(STORE_EVENT_PFX) - 1) || store_event_seq(&k) > limit)
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
	}
out:
	mdb_cursor_close(c);
	return rc;
}

/* Write n bytes at key, a string. */
static int
store_put(struct store *s, MDB_txn *txn, const char *key, const void *data,
    size_t n)
{
	MDB_val	 k, v;

	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	v.mv_data = (void *)data;
	v.mv_size = n;
	return mdb_put(txn, s->dbi, &k, &v, 0);
}

static int
store_get(struct store *s, MDB_txn *txn, const char *key, MDB_val *v)
{
	MDB_val	 k;

	k.mv_data = (void *)key;
	k.mv_size = strlen(key);
	return mdb_get(txn, s->dbi, &k, v);
}

static int
store_key_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

typedef char store_key_t[STORE_KEY_MAX];

/* Delete the peer records whose key is not in the sorted `keep'. */
static int
store_prune(struct store *s, MDB_txn *txn, store_key_t *keep, size_t nkeep)
{
	struct gone {
		size_t	 len;
		char	 key[512];	/* LMDB's largest key is 511 bytes */
	}		*gone = NULL, *tmp;
	MDB_cursor	*c;
	MDB_val		 k, v;
	store_key_t	 key;
	size_t		 ngone = 0, cap = 0, i;
	int		 rc;

	if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
		return rc;
	k.mv_data = (void *)STORE_PEER_PFX;
	k.mv_size = sizeof(STORE_PEER_PFX) - 1;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (!store_has_prefix(&k, STORE_PEER_PFX,
		    sizeof(STORE_PEER_PFX) - 1))
			break;
		if (k.mv_size < sizeof(key) &&
		    memchr(k.mv_data, '\0', k.mv_size) == NULL) {
			memcpy(key, k.mv_data, k.mv_size);
			key[k.mv_size] = '\0';
			if (bsearch(key, keep, nkeep, sizeof(*keep),
			    store_key_cmp) != NULL)
				continue;
		}
		if (k.mv_size > sizeof(gone->key))
			continue;	/* not an LMDB key: cannot happen */
		if (ngone == cap) {
			cap = cap ? cap * 2 : 16;
			if ((tmp = reallocarray(gone, cap, sizeof(*gone))) ==
			    NULL) {
				rc = ENOMEM;
				goto out;
			}
			gone = tmp;
		}
		gone[ngone].len = k.mv_size;
		memcpy(gone[ngone++].key, k.mv_data, k.mv_size);
	}
	if (rc != MDB_NOTFOUND && rc != 0)
		goto out;
	/* Deleted apart from the walk, so the cursor never steps on them. */
	rc = 0;
	for (i = 0; i < ngone && rc == 0; i++) {
		k.mv_data = gone[i].key;
		k.mv_size = gone[i].len;
		rc = mdb_del(txn, s->dbi, &k, NULL);
	}
out:
	mdb_cursor_close(c);
	free(gone);
	return rc;
}

/* store_publish()'s transaction, run again when the map had to grow. */
static int
store_publish_txn(struct store *s, store_key_t *keys, size_t n,
    const struct store_dir_head *head, size_t dirsize, uint64_t generation,
    int32_t master_pid)
{
	MDB_txn			*txn = NULL;
	MDB_val			 k, v;
	struct store_meta	 meta, old;
	struct store_peer	 p;
	uint64_t		 now = clock_wall_ms();
	size_t			 i;
	int			 rc;

	if ((rc = store_txn_begin(s, 0, &txn)) != 0)
		return rc;
	/* Existing records keep their health: that is what survives reloads. */
	for (i = 0; i < n; i++) {
		k.mv_data = keys[i];
		k.mv_size = strlen(keys[i]);
		rc = store_get_peer(txn, s->dbi, &k, &p);
		if (rc == 0)
			continue;
		if (rc != MDB_NOTFOUND)
			goto out;
		health_init(&p);
		v.mv_data = &p;
		v.mv_size = sizeof(p);
		if ((rc = mdb_put(txn, s->dbi, &k, &v, 0)) != 0)
			goto out;
	}
	qsort(keys, n, sizeof(*keys), store_key_cmp);
	if ((rc = store_prune(s, txn, keys, n)) != 0)
		goto out;

	memset(&meta, 0, sizeof(meta));
	rc = store_get(s, txn, "meta", &v);
	if (rc == 0 && store_copy(&v, &old, sizeof(old)) == 0 &&
	    old.master_pid == master_pid) {
		/* A reload: same master, same workers until it respawns. */
		meta = old;
	} else if (rc != 0 && rc != MDB_NOTFOUND)
		goto out;
	else
		meta.started_ms = now;
	meta.version = STORE_LAYOUT_VERSION;
	meta.generation = generation;
	meta.master_pid = master_pid;
	meta.published_ms = now;
	if ((rc = store_put(s, txn, "meta", &meta, sizeof(meta))) != 0 ||
	    (rc = store_put(s, txn, "dir", head, dirsize)) != 0)
		goto out;
	rc = mdb_txn_commit(txn);
	txn = NULL;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

int
store_publish(struct store *s, const struct store_dir_entry *ents, size_t n,
    uint32_t npools, uint64_t generation, int32_t master_pid)
{
	MDB_val			 k;
	struct store_dir_head	*head = NULL;
	store_key_t		*keys = NULL;
	size_t			 i, dirsize;
	int			 rc;

	if (n > UINT32_MAX)
		return EINVAL;
	dirsize = sizeof(*head) + n * sizeof(*ents);
	if ((head = calloc(1, dirsize)) == NULL ||
	    (keys = calloc(n ? n : 1, sizeof(*keys))) == NULL) {
		rc = ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		rc = EINVAL;
		if (memchr(ents[i].pool, '\0', sizeof(ents[i].pool)) == NULL ||
		    memchr(ents[i].addr, '\0', sizeof(ents[i].addr)) == NULL ||
		    (rc = store_peer_key(keys[i], ents[i].pool, ents[i].addr,
		    &k)) != 0)
			goto out;
	}
	memcpy(head + 1, ents, n * sizeof(*ents));
	head->version = STORE_LAYOUT_VERSION;
	head->entry_size = sizeof(*ents);
	head->nentries = (uint32_t)n;
	head->npools = npools;
	head->generation = generation;

	while ((rc = store_publish_txn(s, keys, n, head, dirsize, generation,
	    master_pid)) == MDB_MAP_FULL && store_grow(s) == 0)
		;
out:
	free(keys);
	free(head);
	return rc;
}

int
store_set_workers(struct store *s, const int32_t *pids, unsigned n)
{
	MDB_txn			*txn;
	MDB_val			 v;
	struct store_meta	 meta;
	int			 rc;

	if (n > STORE_WORKERS_MAX)
		return EINVAL;
	if ((rc = store_txn_begin(s, 0, &txn)) != 0)
		return rc;
	if ((rc = store_get(s, txn, "meta", &v)) != 0 ||
	    (rc = store_copy(&v, &meta, sizeof(meta))) != 0)
		goto fail;
	memset(meta.worker_pids, 0, sizeof(meta.worker_pids));
	if (n > 0)
		memcpy(meta.worker_pids, pids, n * sizeof(*pids));
	meta.nworkers = n;
	if ((rc = store_put(s, txn, "meta", &meta, sizeof(meta))) != 0)
		goto fail;
	return mdb_txn_commit(txn);
fail:
	mdb_txn_abort(txn);
	return rc;
}

uint64_t
store_version(struct store *s)
{
	MDB_envinfo	 info;

	/* The meta page, read without a transaction: no lock, no syscall. */
	if (mdb_env_info(s->env, &info) != 0)
		return 0;
	return (uint64_t)info.me_last_txnid;
}

int
store_read_begin(struct store *s)
{
	int	 rc;

	if (s->ractive)
		return EINVAL;
	if (s->rtxn != NULL) {
		if ((rc = mdb_txn_renew(s->rtxn)) == 0) {
			s->ractive = 1;
			return 0;
		}
		/* Start over with a new transaction (and slot) below. */
		mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
	}
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
	if (rc == MDB_MAP_RESIZED && (rc = mdb_env_set_mapsize(s->env, 0)) ==
	    0)
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
	if (rc != 0) {
		s->rtxn = NULL;
		return rc;
	}
	s->ractive = 1;
	return 0;
}

int
store_peer_get(struct store *s, const char *pool, const char *addr,
    struct store_peer *out)
{
	char	 kbuf[STORE_KEY_MAX];
	MDB_val	 k;
	int	 rc;

	if (!s->ractive)
		return EINVAL;
	if ((rc = store_peer_key(kbuf, pool, addr, &k)) != 0)
		return rc;
	return store_get_peer(s->rtxn, s->dbi, &k, out);
}

void
store_read_end(struct store *s)
{
	if (!s->ractive)
		return;
	mdb_txn_reset(s->rtxn);
	s->ractive = 0;
}

bool
store_op_decide(struct store_peer *p, const struct store_op *a,
    struct store_event *ev)
{
	switch (a->op) {
	case STORE_OP_FAILURE:
		/* The trial failed: the next request may try again at once. */
		if (a->trial)
			(void)health_release_trial(p, a->pid);
		return health_on_failure(p, a->hp, a->kind, a->detail, a->pid,
		    a->now_ms, ev);
	case STORE_OP_SUCCESS:
		return health_on_success(p, a->pid, a->now_ms, ev);
	case STORE_OP_CLAIM:
		return health_claim_probe(p, a->hp, a->pid, a->now_ms, ev);
	case STORE_OP_RELEASE:
		return health_release_probe(p, a->kind, a->pid, a->now_ms, ev);
	case STORE_OP_ADMIN:
		return health_set_admin(p, a->admin, a->pid, a->now_ms, ev);
	case STORE_OP_RESET:
		return health_reset(p, a->pid, a->now_ms, ev);
	case STORE_OP_STALL:
		return health_on_connect_stall(p, a->hp, a->pid, a->now_ms,
		    a->got, ev);
	case STORE_OP_CONNECTED:
		return health_on_connect(p, a->trial, a->pid, a->now_ms, ev);
	case STORE_OP_CLAIM_TRIAL:
		/* A claim is no state change: written, but no event. */
		*a->got = health_claim_trial(p, a->hp, a->pid, a->now_ms);
		return false;
	case STORE_OP_RELEASE_TRIAL:
		(void)health_release_trial(p, a->pid);
		return false;
	}
	return false;
}

/*
 * One write transaction per decision: re-read the record (another worker
 * may have changed it since our read snapshot), let health.c decide,
 * write only if the record's bytes changed, and log the event with it,
 * so that the record and the ring never disagree.
 */
static int
store_peer_apply_once(struct store *s, const char *pool, const char *addr,
    const struct store_op *a, struct store_outcome *out)
{
	MDB_txn			*txn;
	MDB_val			 k, v;
	struct store_peer	 p, before;
	struct store_event	 ev;
	char			 kbuf[STORE_KEY_MAX];
	bool			 ch;
	int			 rc;

	memset(out, 0, sizeof(*out));
	if (a->got != NULL)
		*a->got = false;
	if ((rc = store_peer_key(kbuf, pool, addr, &k)) != 0)
		return rc;
	if ((rc = store_txn_begin(s, 0, &txn)) != 0)
		return rc;
	if ((rc = store_get_peer(txn, s->dbi, &k, &p)) != 0)
		goto fail;
	before = p;
	memset(&ev, 0, sizeof(ev));
	ch = store_op_decide(&p, a, &ev);
	/* A try's counters travel with the decision its end caused. */
	health_add_counters(&p, a->add_requests, a->add_failures);
	if (!ch && memcmp(&p, &before, sizeof(p)) == 0) {
		mdb_txn_abort(txn);
		out->rec = p;
		return 0;
	}
	v.mv_data = &p;
	v.mv_size = sizeof(p);
	if ((rc = mdb_put(txn, s->dbi, &k, &v, 0)) != 0)
		goto fail;
	if (ch) {
		memcpy(ev.pool, pool, strlen(pool) + 1);
		memcpy(ev.addr, addr, strlen(addr) + 1);
		if ((rc = store_event_append(s, txn, &ev)) != 0)
			goto fail;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		if (a->got != NULL)
			*a->got = false;
		return rc;
	}
	out->rec = p;
	out->written = true;
	if (ch) {
		out->changed = true;
		out->ev = ev;
	}
	return 0;
fail:
	mdb_txn_abort(txn);
	if (a->got != NULL)
		*a->got = false;
	return rc;
}

int
store_peer_apply(struct store *s, const char *pool, const char *addr,
    const struct store_op *op, struct store_outcome *out)
{
	int	 rc;

	while ((rc = store_peer_apply_once(s, pool, addr, op, out)) ==
	    MDB_MAP_FULL && store_grow(s) == 0)
		;
	return rc;
}

/* The named wrappers below: *ev and *changed as store.h says. */
static int
store_peer_apply_ev(struct store *s, const char *pool, const char *addr,
    const struct store_op *a, struct store_event *ev, bool *changed)
{
	struct store_outcome	 out;
	int			 rc;

	rc = store_peer_apply(s, pool, addr, a, &out);
	if (changed != NULL)
		*changed = out.changed;
	if (out.changed && ev != NULL)
		*ev = out.ev;
	return rc;
}

int
store_peer_failure(struct store *s, const char *pool, const char *addr,
    const struct health_params *hp, enum failure_kind kind,
    const char *detail, int32_t pid, uint64_t now_ms,
    struct store_event *ev, bool *changed)
{
	struct store_op	 a = { .op = STORE_OP_FAILURE, .hp = hp,
	    .kind = kind, .detail = detail, .pid = pid, .now_ms = now_ms };

	return store_peer_apply_ev(s, pool, addr, &a, ev, changed);
}

int
store_peer_trial_failure(struct store *s, const char *pool, const char *addr,
    const struct health_params *hp, enum failure_kind kind,
    const char *detail, int32_t pid, uint64_t now_ms,
    struct store_event *ev, bool *changed)
{
	struct store_op	 a = { .op = STORE_OP_FAILURE, .hp = hp,
	    .kind = kind, .detail = detail, .pid = pid, .now_ms = now_ms,
	    .trial = true };

	return store_peer_apply_ev(s, pool, addr, &a, ev, changed);
}

int
store_peer_connect_stall(struct store *s, const char *pool, const char *addr,
    const struct health_params *hp, int32_t pid, uint64_t now_ms,
    struct store_event *ev, bool *changed, bool *trial)
{
	bool			 got;
	struct store_op	 a = { .op = STORE_OP_STALL, .hp = hp,
	    .pid = pid, .now_ms = now_ms, .got = &got };
	int			 rc;

	rc = store_peer_apply_ev(s, pool, addr, &a, ev, changed);
	if (trial != NULL)
		*trial = got;
	return rc;
}

int
store_peer_connected(struct store *s, const char *pool, const char *addr,
    bool trial, int32_t pid, uint64_t now_ms, struct store_event *ev,
    bool *changed)
{
	struct store_op	 a = { .op = STORE_OP_CONNECTED, .pid = pid,
	    .now_ms = now_ms, .trial = trial };

	return store_peer_apply_ev(s, pool, addr, &a, ev, changed);
}

int
store_peer_claim_trial(struct store *s, const char *pool, const char *addr,
    const struct health_params *hp, int32_t pid, uint64_t now_ms, bool *won)
{
	bool			 got;
	struct store_op	 a = { .op = STORE_OP_CLAIM_TRIAL, .hp = hp,
	    .pid = pid, .now_ms = now_ms, .got = &got };
	int			 rc;

	rc = store_peer_apply_ev(s, pool, addr, &a, NULL, NULL);
	if (won != NULL)
		*won = got;
	return rc;
}

int
store_peer_release_trial(struct store *s, const char *pool, const char *addr,
    int32_t pid)
{
	struct store_op	 a = { .op = STORE_OP_RELEASE_TRIAL,
	    .pid = pid };

	return store_peer_apply_ev(s, pool, addr, &a, NULL, NULL);
}

int
store_peer_success(struct store *s, const char *pool, const char *addr,
    int32_t pid, uint64_t now_ms, struct store_event *ev, bool *changed)
{
	struct store_op	 a = { .op = STORE_OP_SUCCESS, .pid = pid,
	    .now_ms = now_ms };

	return store_peer_apply_ev(s, pool, addr, &a, ev, changed);
}

int
store_peer_claim_probe(struct store *s, const char *pool, const char *addr,
    const struct health_params *hp, int32_t pid, uint64_t now_ms,
    struct store_event *ev, bool *won)
{
	struct store_op	 a = { .op = STORE_OP_CLAIM, .hp = hp,
	    .pid = pid, .now_ms = now_ms };

	return store_peer_apply_ev(s, pool, addr, &a, ev, won);
}

int
store_peer_release_probe(struct store *s, const char *pool,
    const char *addr, enum failure_kind kind, int32_t pid, uint64_t now_ms,
    struct store_event *ev, bool *changed)
{
	struct store_op	 a = { .op = STORE_OP_RELEASE, .kind = kind,
	    .pid = pid, .now_ms = now_ms };

	return store_peer_apply_ev(s, pool, addr, &a, ev, changed);
}

int
store_peer_admin(struct store *s, const char *pool, const char *addr,
    enum admin_state admin, int32_t pid, uint64_t now_ms,
    struct store_event *ev, bool *changed)
{
	struct store_op	 a = { .op = STORE_OP_ADMIN, .admin = admin,
	    .pid = pid, .now_ms = now_ms };

	return store_peer_apply_ev(s, pool, addr, &a, ev, changed);
}

int
store_peer_reset(struct store *s, const char *pool, const char *addr,
    int32_t pid, uint64_t now_ms, struct store_event *ev, bool *changed)
{
	struct store_op	 a = { .op = STORE_OP_RESET, .pid = pid,
	    .now_ms = now_ms };

	return store_peer_apply_ev(s, pool, addr, &a, ev, changed);
}

static int
store_add_counters_once(struct store *s, const struct store_counter *batch,
    size_t n)
{
	MDB_txn			*txn;
	MDB_val			 k, v;
	struct store_peer	 p, before;
	char			 kbuf[STORE_KEY_MAX];
	size_t			 i, written = 0;
	int			 rc;

	if (n == 0)
		return s->pid != getpid() ? STORE_FORKED : 0;
	for (i = 0; i < n; i++)
		if ((rc = store_peer_key(kbuf, batch[i].pool, batch[i].addr,
		    &k)) != 0)
			return rc;
	if ((rc = store_txn_begin(s, 0, &txn)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		store_peer_key(kbuf, batch[i].pool, batch[i].addr, &k);
		rc = store_get_peer(txn, s->dbi, &k, &p);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc != 0)
			goto fail;
		before = p;
		health_add_counters(&p, batch[i].requests, batch[i].failures);
		if (memcmp(&p, &before, sizeof(p)) == 0)
			continue;
		v.mv_data = &p;
		v.mv_size = sizeof(p);
		if ((rc = mdb_put(txn, s->dbi, &k, &v, 0)) != 0)
			goto fail;
		written++;
	}
	if (written == 0) {
		mdb_txn_abort(txn);
		return 0;
	}
	return mdb_txn_commit(txn);
fail:
	mdb_txn_abort(txn);
	return rc;
}

int
store_add_counters(struct store *s, const struct store_counter *batch,
    size_t n)
{
	int	 rc;

	while ((rc = store_add_counters_once(s, batch, n)) == MDB_MAP_FULL &&
	    store_grow(s) == 0)
		;
	return rc;
}

int
store_read_meta(struct store *s, struct store_meta *out)
{
	MDB_txn	*txn;
	MDB_val	 v;
	int	 rc;

	if ((rc = store_txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return rc;
	if ((rc = store_get(s, txn, "meta", &v)) == 0)
		rc = store_copy(&v, out, sizeof(*out));
	mdb_txn_abort(txn);
	return rc;
}

int
store_read_dir(struct store *s, struct store_dir_entry **entries, size_t *n)
{
	MDB_txn			*txn;
	MDB_val			 v;
	struct store_dir_head	 head;
	int			 rc;

	*entries = NULL;
	*n = 0;
	if ((rc = store_txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return rc;
	if ((rc = store_get(s, txn, "dir", &v)) != 0)
		goto out;
	rc = MDB_NOTFOUND;
	if (v.mv_size < sizeof(head))
		goto out;
	memcpy(&head, v.mv_data, sizeof(head));
	if (head.version != STORE_LAYOUT_VERSION ||
	    head.entry_size != sizeof(**entries) ||
	    v.mv_size != sizeof(head) + (size_t)head.nentries *
	    sizeof(**entries))
		goto out;
	rc = 0;
	if (head.nentries == 0)
		goto out;
	if ((*entries = calloc(head.nentries, sizeof(**entries))) == NULL) {
		rc = ENOMEM;
		goto out;
	}
	memcpy(*entries, (const char *)v.mv_data + sizeof(head),
	    (size_t)head.nentries * sizeof(**entries));
	*n = head.nentries;
out:
	mdb_txn_abort(txn);
	return rc;
}

int
store_read_events(struct store *s, size_t last_n, struct store_event **evs,
    size_t *n)
{
	MDB_txn			*txn;
	MDB_cursor		*c = NULL;
	MDB_val			 k, v;
	struct store_event	*arr = NULL;
	size_t			 cap, got = 0;
	int			 rc;

	*evs = NULL;
	*n = 0;
	cap = last_n < STORE_EVENTS_KEPT ? last_n : STORE_EVENTS_KEPT;
	if (cap == 0)
		return s->pid != getpid() ? STORE_FORKED : 0;
	if ((rc = store_txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return rc;
	if ((arr = calloc(cap, sizeof(*arr))) == NULL) {
		rc = ENOMEM;
		goto out;
	}
	if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0)
		goto out;
	/* Newest first into the tail of arr, so it ends oldest first. */
	for (rc = store_event_last(c, &k, &v); rc == 0 && got < cap;
	    rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
		if (!store_has_prefix(&k, STORE_EVENT_PFX,
		    sizeof(STORE_EVENT_PFX) - 1))
			break;
		if (store_copy(&v, &arr[cap - got - 1], sizeof(*arr)) == 0)
			got++;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
	if (got == 0)
		goto out;
	memmove(arr, arr + (cap - got), got * sizeof(*arr));
	*evs = arr;
	*n = got;
	arr = NULL;
out:
	if (c != NULL)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	free(arr);
	return rc;
}
