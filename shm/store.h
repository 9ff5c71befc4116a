/*
 * store.h: the shared health store, one LMDB environment in state_dir
 * (DESIGN.md §4, §5, §8).
 *
 * The master publishes the pool/peer directory and creates the peer
 * records; the workers read peer records on the request path and write
 * them when a peer's state changes; shuntctl reads everything and writes
 * admin commands.  Every process opens its own handle (struct store) with
 * the same environment flags.  The records are those of store-t.h; the
 * state machine that decides what a failure or a success does to a record
 * is health.h's: the store only re-reads the record, asks health.c,
 * writes the result and appends the event, in one short write
 * transaction.
 *
 * Keys, all in LMDB's unnamed database:
 *
 *	"meta"				struct store_meta
 *	"dir"				struct store_dir_head, then
 *					nentries struct store_dir_entry
 *	"event/<seq, 16 hex digits>"	struct store_event (a ring of the
 *					latest STORE_EVENTS_KEPT)
 *	"peer/<pool>/<address>"		struct store_peer
 *
 * Keys carry no NUL.  A record whose version is not STORE_LAYOUT_VERSION
 * or whose size differs is treated as absent: readers skip it and
 * store_publish() replaces it.
 *
 * Return codes are LMDB's: 0 on success, an errno value, or one of the
 * MDB_* codes of lmdb.h (MDB_NOTFOUND, MDB_MAP_FULL, MDB_READERS_FULL,
 * ...), plus the STORE_* codes below.  store_strerror() names them all.
 * MDB_MAP_FULL is handled inside every writer: the map starts at
 * STORE_MAP_SIZE and is doubled (up to STORE_MAP_SIZE_MAX) and the
 * transaction run again, so a config of 140,000 peers publishes; LMDB
 * keeps the grown size in the file and store_open() adopts it, so every
 * process maps alike.  It is returned only at STORE_MAP_SIZE_MAX or
 * while the handle's request-path read transaction is active.
 * MDB_MAP_RESIZED (another process grew the data past this handle's map)
 * is handled inside every function by adopting the new size and trying
 * once more, except while the handle's request-path read transaction is
 * active, which a remap would pull the pages from under: then it is
 * returned, and the same call succeeds after store_read_end().
 *
 * Caveats
 *
 *   - Open after fork.  An LMDB environment must never cross fork(): a
 *     child's readers would register under the parent's pid (so a dead
 *     worker's reader slot is never reclaimed) and closing an inherited
 *     handle releases locks so that live readers look dead.  The master
 *     closes its store before it forks; each worker and shuntctl open
 *     their own.  A handle used in a process other than the one that
 *     opened it fails with STORE_FORKED (write and reader functions) and
 *     store_close() then only frees the handle, leaving LMDB alone.  The
 *     request-path functions (store_read_begin(), store_peer_get(),
 *     store_read_end()) do not check, to stay free of syscalls.
 *   - Keep read transactions short.  A reader pins the pages it sees; a
 *     worker renews its read transaction per request (or per event-loop
 *     pass) and resets it right after, never across a blocking wait.
 *   - Write only on state change.  The request path writes when a try
 *     fails, when health_success_needs_write() says a success matters, to
 *     claim a recovery probe, when a connect stalls or a suspect peer's
 *     connect completes (health_connect_needs_write()), to claim or end a
 *     trial, and once a second for batched counters; never per
 *     successful request.  Each write function writes nothing
 *     when health.c leaves the record unchanged.
 *   - Reader check in the master.  A process killed inside a read
 *     transaction keeps its reader slot, and with it old pages, until
 *     store_reader_check() (mdb_reader_check()) clears it: the master
 *     calls it at start, after every reaped worker and periodically.
 *   - One thread per handle.  The handle is not locked; a process with
 *     several threads opens one per thread.
 *   - Durability.  The environment is opened MDB_NOSYNC: a process crash
 *     loses nothing committed, an operating-system crash may lose the
 *     last transactions, and may leave the file corrupt, which the next
 *     store_open(STORE_CREATE) moves aside (STORE_RECREATED).  Health is
 *     runtime state: that trade buys ~1 us commits instead of ~360 us.
 */
#ifndef SHUNT_STORE_H
#define SHUNT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "failure.h"
#include "health.h"
#include "store-t.h"

/* store_open() flags. */
#define STORE_CREATE	0x01	/* make the directory and the environment */
#define STORE_RDONLY	0x02	/* read only: every write returns EACCES */

/*
 * Codes of the store itself, outside LMDB's range (-30799 .. -30780) and
 * outside errno's (positive).
 */
#define STORE_RECREATED	(-30700) /* store_open(): the data file was
				    corrupt, moved aside, and recreated;
				    the handle is open and usable */
#define STORE_FORKED	(-30701) /* handle used after fork() */
#define STORE_FOREIGN	(-30703) /* store_open(STORE_CREATE): data.mdb
				    holds keys no shunt writes */
#define STORE_NOT_FILE	(-30702) /* store_open(): data.mdb or lock.mdb
				    is a symbolic link or not a regular
				    file */

#define STORE_MAP_SIZE		(64UL << 20)	/* to start with */
#define STORE_MAP_SIZE_MAX	((size_t)1 << (sizeof(size_t) > 4 ? 36 : 30))
					/* doubled up to this (64 GiB) */
#define STORE_MAX_READERS	512
#define STORE_FILE_MODE		0640
#define STORE_DIR_MODE		0750

/* "meta": who publishes, and the workers it runs. */
struct store_meta {
	uint32_t	 version;		/* STORE_LAYOUT_VERSION */
	uint32_t	 nworkers;		/* worker_pids[0 .. nworkers) */
	uint64_t	 generation;		/* of the config, 1 at start */
	int32_t		 master_pid;
	uint32_t	 pad0;
	uint64_t	 started_ms;		/* this master's 1st publish */
	uint64_t	 published_ms;		/* the latest publish */
	int32_t		 worker_pids[STORE_WORKERS_MAX]; /* by slot; 0: none */
};

/*
 * "dir": the pools and peers in config order, so shuntctl -S can list
 * them without the config.  The value is one head followed by nentries
 * entries, one per peer, pool by pool; a reader checks version and
 * entry_size before trusting the entries.
 */
struct store_dir_head {
	uint32_t	 version;		/* STORE_LAYOUT_VERSION */
	uint32_t	 entry_size;		/* sizeof(store_dir_entry) */
	uint32_t	 nentries;
	uint32_t	 npools;
	uint64_t	 generation;
};

#define STORE_DIR_BACKUP	0x01
#define STORE_DIR_TLS		0x02

struct store_dir_entry {
	char		 pool[STORE_NAME_MAX];
	char		 addr[STORE_ADDR_MAX];
	uint32_t	 pool_index;		/* position of the pool */
	uint32_t	 peer_index;		/* position in its pool */
	uint32_t	 max_fails;		/* the pool's health params */
	uint32_t	 weight;		/* saturated at UINT32_MAX */
	uint64_t	 fail_timeout_ms;
	uint32_t	 flags;			/* STORE_DIR_* */
	uint32_t	 pad0;
};

/*
 * One decision on one peer's record (health.c's rules), for
 * store_peer_apply() and store_op_decide().
 */
enum store_op_kind {
	STORE_OP_FAILURE,	/* health_on_failure(); trial: the trial's */
	STORE_OP_SUCCESS,	/* health_on_success() */
	STORE_OP_CLAIM,		/* health_claim_probe() */
	STORE_OP_RELEASE,	/* health_release_probe(kind) */
	STORE_OP_ADMIN,		/* health_set_admin() */
	STORE_OP_RESET,		/* health_reset() */
	STORE_OP_STALL,		/* health_on_connect_stall(); *got: trial */
	STORE_OP_CONNECTED,	/* health_on_connect() */
	STORE_OP_CLAIM_TRIAL,	/* health_claim_trial(); *got: won */
	STORE_OP_RELEASE_TRIAL,	/* health_release_trial() */
};

struct store_op {
	enum store_op_kind		 op;
	const struct health_params	*hp;
	enum failure_kind		 kind;
	const char			*detail;
	enum admin_state		 admin;
	int32_t				 pid;
	uint64_t			 now_ms;
	bool				 trial;	/* the connect was the trial */
	bool				*got;	/* the trial: won or handed */
	/* Counters added in the same write (a try's, with its failure). */
	uint64_t			 add_requests;
	uint64_t			 add_failures;
};

/* What store_peer_apply() did. */
struct store_outcome {
	struct store_peer	 rec;		/* as written, or as found */
	struct store_event	 ev;		/* when changed */
	bool			 changed;	/* the state changed: event */
	bool			 written;	/* the record's bytes changed */
};

/* One peer's batched totals for store_add_counters(). */
struct store_counter {
	const char	*pool;
	const char	*addr;
	uint64_t	 requests;		/* tries sent */
	uint64_t	 failures;		/* tries failed */
};

struct store;

/*
 * Open the environment in directory `dir' (files data.mdb and lock.mdb)
 * and return a handle in *out.  Flags: STORE_CREATE creates `dir'
 * (mode 0750, with missing parents) and the files (mode 0640, less the
 * umask) when missing; STORE_RDONLY opens read only.  Call it after fork,
 * in the process that will use the handle.
 *
 * With STORE_CREATE, a data file LMDB refuses as not LMDB, of another
 * LMDB version, or corrupt is renamed to data.mdb.corrupt-<unix time> and
 * a new one created: the return is then STORE_RECREATED with *out set,
 * for the caller to log a warning (health starts afresh).  Without
 * STORE_CREATE the same file gives MDB_INVALID, MDB_VERSION_MISMATCH or
 * MDB_CORRUPTED.
 *
 * With STORE_CREATE every record is read once: an environment holding a
 * key no shunt writes (see the list above) is another program's and is
 * refused with STORE_FOREIGN, left as it is.  Records of another layout
 * version are shunt's own: they are kept, and replaced by the next
 * store_publish().
 *
 * STORE_CREATE is the master's, at start, while no other process has
 * the environment open: a data file moved aside under live processes
 * would leave them on the old one.
 *
 * A data.mdb or lock.mdb that is a symbolic link or not a regular file
 * is refused (STORE_NOT_FILE), never followed: LMDB rewrites the lock
 * file it opens, and whoever owns the directory could point it anywhere.
 *
 * Returns 0 or STORE_RECREATED with *out owned by the caller (release it
 * with store_close()); otherwise *out is NULL and the code is ENOENT (no
 * such dir or environment without STORE_CREATE), EACCES, EINVAL (bad
 * flags), ENOMEM, STORE_NOT_FILE, STORE_FOREIGN, or an LMDB code.
 */
int	 store_open(struct store **out, const char *dir, int flags);

/*
 * Create directory dir and its missing parents (mode STORE_DIR_MODE, less
 * the umask), as store_open(STORE_CREATE) does.  Returns 0, ENOTDIR when
 * dir exists and is not a directory, or an errno value.
 */
int	 store_make_dir(const char *dir);

/*
 * Close the handle and free it; NULL is fine.  Ends a read transaction
 * left open.  In a process other than the opener (after fork) it frees
 * the handle only and leaves the inherited environment alone.
 */
void	 store_close(struct store *s);

/* A static string for any code the store returns. */
const char *store_strerror(int rc);

/*
 * Clear the reader slots of dead processes (mdb_reader_check()); *dead,
 * when not NULL, receives how many.  Master: at start, after every reaped
 * worker, periodically.  Returns 0 or an LMDB code.
 */
int	 store_reader_check(struct store *s, int *dead);

/*
 * Master, at start and on every reload, in one write transaction: write
 * "meta" (generation, master_pid, the start time kept while master_pid
 * stays the same, the worker pids kept likewise) and "dir" (ents[0, n):
 * every peer of npools pools, in config order, as the master filled them
 * from its config); create the record of every listed peer that has none
 * (health_init()) or an unusable one; keep existing records, so health
 * survives reloads; delete the records of peers no longer listed.  The
 * events ring is kept.
 *
 * Returns 0; EINVAL if a pool name or an address is empty or not
 * NUL-terminated in its field (nothing written); EACCES read only;
 * ENOMEM; STORE_FORKED; an LMDB code (MDB_MAP_FULL ...).
 */
int	 store_publish(struct store *s, const struct store_dir_entry *ents,
	    size_t n, uint32_t npools, uint64_t generation,
	    int32_t master_pid);

/*
 * Master, after (re)spawning workers: worker_pids[i] = pids[i] for slot
 * i < n, nworkers = n.  Returns 0; EINVAL when n > STORE_WORKERS_MAX;
 * MDB_NOTFOUND before the first store_publish(); EACCES; STORE_FORKED;
 * an LMDB code.
 */
int	 store_set_workers(struct store *s, const int32_t *pids, unsigned n);

/*
 * The request path.  store_read_begin() starts (renews) the handle's one
 * read transaction; store_peer_get() copies a peer record seen by it into
 * *out; store_read_end() resets it.  No allocation after the first
 * begin.  Everything a read transaction sees is one consistent snapshot.
 *
 * store_read_begin() returns 0, EINVAL when the transaction is already
 * active, or an LMDB code (MDB_READERS_FULL ...).  store_peer_get()
 * returns 0, MDB_NOTFOUND when the peer has no usable record, EINVAL
 * without an active read transaction or with a name too long, or an
 * LMDB code.  store_read_end() without an active transaction does
 * nothing.
 */
/*
 * The id of the store's last committed write transaction: it changes on
 * every write, so a reader that saw the same id may keep what it read.
 * Read it before store_read_begin() (a write in between then only causes
 * one needless re-read).  Cheap: no transaction, no lock, no syscall.
 * 0 when it cannot be read (read again then).
 */
uint64_t store_version(struct store *s);

int	 store_read_begin(struct store *s);
int	 store_peer_get(struct store *s, const char *pool, const char *addr,
	    struct store_peer *out);
void	 store_read_end(struct store *s);

/*
 * The writers of one peer record.  Each runs one write transaction that
 * re-reads the record, applies the health.c function named, writes the
 * record only if its bytes changed, and, if the state changed, appends
 * the event (pool, addr and seq filled in) to the ring, dropping events
 * older than the latest STORE_EVENTS_KEPT.
 *
 * *changed (or *won), when not NULL, says whether the state changed; *ev,
 * when not NULL, then receives the event as written (for
 * health_event_format()), and is left alone otherwise.  The handle's read
 * transaction may be active meanwhile; it keeps its older snapshot.
 *
 *   store_peer_failure()	health_on_failure()
 *   store_peer_success()	health_on_success(); call it only when
 *				health_success_needs_write() said so
 *   store_peer_claim_probe()	health_claim_probe(): *won is true for
 *				exactly one caller across all processes
 *   store_peer_release_probe() health_release_probe()
 *   store_peer_admin()		health_set_admin()
 *   store_peer_reset()		health_reset()
 *   store_peer_trial_failure()	health_release_trial() for pid, then
 *				health_on_failure(): the trial connect
 *				failed
 *   store_peer_connect_stall()	health_on_connect_stall(); *trial says
 *				whether the stalled connect became the
 *				trial
 *   store_peer_connected()	health_on_connect(); call it only when
 *				health_connect_needs_write() said so
 *   store_peer_claim_trial()	health_claim_trial(): *won is true for
 *				exactly one caller across all processes;
 *				no event
 *   store_peer_release_trial()	health_release_trial(); no event
 *
 * Return 0 (whether or not anything changed); MDB_NOTFOUND when the peer
 * has no usable record (not configured: no record is made up); EINVAL for
 * names too long; EACCES read only; STORE_FORKED; an LMDB code
 * (MDB_MAP_FULL ...).  On error nothing is written and *changed, *won
 * and *trial are false.
 */
/*
 * The one entry the named calls below go through, for a caller that
 * keeps the record: apply op to the peer's record in one write
 * transaction (written only if its bytes change; the event with it),
 * adding op's counters, and fill *out with the record as it now stands.
 * Returns as the named calls do; *out is zeroed on error.
 */
int	 store_peer_apply(struct store *s, const char *pool, const char *addr,
	    const struct store_op *op, struct store_outcome *out);

/*
 * The same decision on a record in memory, nothing written: for a
 * worker without a store.  Returns whether the state changed (*ev then
 * filled but for pool, addr and seq).  Counters are not added.
 */
bool	 store_op_decide(struct store_peer *p, const struct store_op *op,
	    struct store_event *ev);

int	 store_peer_failure(struct store *s, const char *pool,
	    const char *addr, const struct health_params *hp,
	    enum failure_kind kind, const char *detail, int32_t pid,
	    uint64_t now_ms, struct store_event *ev, bool *changed);
int	 store_peer_success(struct store *s, const char *pool,
	    const char *addr, int32_t pid, uint64_t now_ms,
	    struct store_event *ev, bool *changed);
int	 store_peer_claim_probe(struct store *s, const char *pool,
	    const char *addr, const struct health_params *hp, int32_t pid,
	    uint64_t now_ms, struct store_event *ev, bool *won);
int	 store_peer_release_probe(struct store *s, const char *pool,
	    const char *addr, enum failure_kind kind, int32_t pid,
	    uint64_t now_ms, struct store_event *ev, bool *changed);
int	 store_peer_admin(struct store *s, const char *pool,
	    const char *addr, enum admin_state a, int32_t pid,
	    uint64_t now_ms, struct store_event *ev, bool *changed);
int	 store_peer_reset(struct store *s, const char *pool,
	    const char *addr, int32_t pid, uint64_t now_ms,
	    struct store_event *ev, bool *changed);
int	 store_peer_trial_failure(struct store *s, const char *pool,
	    const char *addr, const struct health_params *hp,
	    enum failure_kind kind, const char *detail, int32_t pid,
	    uint64_t now_ms, struct store_event *ev, bool *changed);
int	 store_peer_connect_stall(struct store *s, const char *pool,
	    const char *addr, const struct health_params *hp, int32_t pid,
	    uint64_t now_ms, struct store_event *ev, bool *changed,
	    bool *trial);
int	 store_peer_connected(struct store *s, const char *pool,
	    const char *addr, bool trial, int32_t pid, uint64_t now_ms,
	    struct store_event *ev, bool *changed);
int	 store_peer_claim_trial(struct store *s, const char *pool,
	    const char *addr, const struct health_params *hp, int32_t pid,
	    uint64_t now_ms, bool *won);
int	 store_peer_release_trial(struct store *s, const char *pool,
	    const char *addr, int32_t pid);

/*
 * Add a worker's batched totals, n entries, in one write transaction
 * (health_add_counters()).  Entries naming a peer without a usable
 * record are skipped (a peer removed by a reload); n == 0 writes
 * nothing.  Returns 0, EINVAL for names too long (nothing written),
 * EACCES, STORE_FORKED or an LMDB code.
 */
int	 store_add_counters(struct store *s, const struct store_counter *batch,
	    size_t n);

/*
 * shuntctl's readers, each in a read transaction of its own (the
 * handle's request-path transaction is not disturbed).
 *
 * store_read_meta() copies "meta" into *out.  store_read_dir() returns
 * in *entries a malloc'd array of *n entries in config order, NULL when
 * *n is 0; the caller frees it.  store_read_events() returns in *evs a
 * malloc'd array of the latest min(last_n, kept) events, oldest first,
 * NULL when *n is 0; the caller frees it.
 *
 * Return 0; MDB_NOTFOUND when "meta" or "dir" is absent or of another
 * layout (never published, or by another version); ENOMEM; STORE_FORKED;
 * an LMDB code.  store_read_events() with no events returns 0 and *n 0.
 */
int	 store_read_meta(struct store *s, struct store_meta *out);
int	 store_read_dir(struct store *s, struct store_dir_entry **entries,
	    size_t *n);
int	 store_read_events(struct store *s, size_t last_n,
	    struct store_event **evs, size_t *n);

#endif /* SHUNT_STORE_H */
