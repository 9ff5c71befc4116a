/*
 * privs.h: who the workers run as.
 *
 * Started as root with `user` (and/or `group`) set, the master stays root,
 * for binding listeners on reload, and each worker drops to that user
 * right after fork, before it opens anything.  The files a worker must
 * write itself (the health store, the log files it reopens on USR1) are
 * created by the master and handed to that user; the group may read them,
 * which is what lets `shuntctl status` run as a member of the group.
 */
#ifndef SHUNT_PRIVS_H
#define SHUNT_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cfg-t.h"

struct privs {
	bool	 drop;		/* the master is root and user/group is set */
	uid_t	 uid;		/* (uid_t)-1: keep */
	gid_t	 gid;		/* (gid_t)-1: keep */
	char	 user[64];	/* for initgroups(); empty: no user given */
};

/*
 * Look up cfg's user and group.  Not root: nothing to drop (a warning is
 * logged when user/group is set).  -1 with "unknown user ..." in err.
 */
int	privs_resolve(const struct shunt_config *cfg, struct privs *p,
	    char *err, size_t errlen);

/*
 * Hand the health store in cfg->state_dir (directory, data and lock file)
 * and cfg's log files (created when missing) to the worker user: the
 * store's lock file group-writable, since an LMDB reader registers in it.
 * Nothing to do without p->drop.  Every file is tried even after one
 * fails; -1 with the first failure's file and reason in err.
 */
int	privs_own_files(const struct privs *p,
	    const struct shunt_config *cfg, char *err, size_t errlen);

/*
 * privs_own_files()'s part for the store only; missing_ok: data.mdb and
 * lock.mdb need not exist yet (before the store is first opened).
 */
int	privs_own_store(const struct privs *p, const char *dir,
	    bool missing_ok, char *err, size_t errlen);

/*
 * The master's visits to the store, which LMDB opens by name, following
 * links, and as the first user of lock.mdb truncates and rewrites: in a
 * state_dir the worker user owns, the master opens it with that user's
 * rights between privs_enter() (effective uid and gid the user's, its
 * group the only one) and privs_leave() (root again; fatal if that
 * fails, which the saved set-user-ID rules out), so that a link the user
 * swaps in leads nowhere it could not write itself.  Nothing to do
 * without p->drop or without a user.  privs_enter(): 0, or -1 with errno
 * and root kept.
 */
int	privs_enter(const struct privs *p);
void	privs_leave(const struct privs *p);

/*
 * In a worker, right after fork: supplementary groups, gid, uid, in that
 * order, and a check that root cannot be regained.  -1 with errno.
 */
int	privs_drop(const struct privs *p);

#endif /* SHUNT_PRIVS_H */
