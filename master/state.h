/*
 * state.h: the master's use of the health store.
 *
 * The master opens the store only for a moment each time and never holds
 * it across fork() (DEPENDENCIES.md): to create and publish it before the
 * workers start, and after workers come and go, to record their pids and
 * clear the reader slots dead workers left behind (mdb_reader_check).
 */
#ifndef SHUNT_STATE_H
#define SHUNT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg-t.h"
#include "privs.h"
#include "store.h"

/*
 * The store's directory of cfg (store_publish()): every peer of every
 * pool in config order, filled from the config, which shm/ knows nothing
 * of.  *n gets the count.  Returns a calloc'ed array, or NULL (no memory).
 * A name too long for its field is left empty, for the store to refuse.
 */
struct store_dir_entry *state_dir_entries(const struct shunt_config *cfg,
	    size_t *n);

/*
 * Both open the store with the worker user's rights when workers drop
 * privileges (privs_enter()), having handed it what exists of the store
 * first: a link planted in state_dir leads nowhere root could write.
 *
 * Create state_dir and the store if missing, then publish the config's
 * pools and peers: existing peers keep their health, removed ones go.
 * A corrupt store is recreated with a warning.  Returns 0, or -1 with a
 * message in err.
 *
 * live: workers have the store open (a reload into the same state_dir).
 * Then a store LMDB refuses is an error rather than moved aside, since
 * the running workers would stay on the file that was moved.  A store
 * removed meanwhile (state_dir, data.mdb or lock.mdb deleted) is created
 * afresh with a warning: the running workers keep the files they have
 * open until they retire, and the new ones start on the new store.
 */
int	state_publish(const struct shunt_config *cfg,
	    const struct privs *privs, uint64_t generation, bool live,
	    char *err, size_t errlen);

/* Record the workers' pids (0: slot empty) and clear dead readers. */
void	state_workers(const struct shunt_config *cfg,
	    const struct privs *privs, const int32_t *pids, unsigned n);

/*
 * One master per state_dir.  A second master on the same store would
 * publish its own peers and prune the first one's, so the master holds
 * an exclusive flock(2) on state_dir/master.lock for its whole life (it
 * goes with the last descriptor of the open file: at exit, or at a
 * crash).  The file holds the master's pid, for the error the next one
 * prints; it stays behind, since unlinking a lock file races a newcomer.
 *
 * state_lock() creates state_dir (mode 0750) if missing, then opens and
 * locks the file, never through a link: returns 0 with the descriptor
 * (close-on-exec) in *fdp, or -1 with "state_dir DIR is in use by shunt
 * master PID" or another reason in err.  A child that must not keep the
 * lock alive past the master closes its inherited copy with
 * state_unlock(): flock locks belong to the open file, which the master
 * still holds.  A daemon notes its new pid with state_lock_note_pid().
 * state_lock_current() says whether fd still is DIR's lock file (a
 * state_dir removed and created again has a new one).
 */
#define STATE_LOCK_FILE		"master.lock"

int	state_lock(const char *dir, int *fdp, char *err, size_t errlen);
void	state_lock_note_pid(int fd);
bool	state_lock_current(int fd, const char *dir);
void	state_unlock(int fd);

#endif /* SHUNT_STATE_H */
