/*
 * privs.c: resolve the worker user, hand it its files, drop to it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "privs.h"

int
privs_resolve(const struct shunt_config *cfg, struct privs *p, char *err,
    size_t errlen)
{
	struct passwd	*pw;
	struct group	*gr;

	memset(p, 0, sizeof(*p));
	p->uid = (uid_t)-1;
	p->gid = (gid_t)-1;
	if (cfg->user == NULL && cfg->group == NULL)
		return 0;
	if (geteuid() != 0) {
		log_warnx("\"user\"/\"group\" in %s only apply when shunt is "
		    "started as root; the workers run as uid %d", cfg->file,
		    (int)geteuid());
		return 0;
	}
	if (cfg->user != NULL) {
		errno = 0;
		if ((pw = getpwnam(cfg->user)) == NULL) {
			snprintf(err, errlen, "%s: unknown user \"%s\"",
			    cfg->file, cfg->user);
			return -1;
		}
		if (strlen(cfg->user) >= sizeof(p->user)) {
			snprintf(err, errlen, "%s: user name \"%s\" is too "
			    "long", cfg->file, cfg->user);
			return -1;
		}
		p->uid = pw->pw_uid;
		p->gid = pw->pw_gid;
		snprintf(p->user, sizeof(p->user), "%s", cfg->user);
	}
	if (cfg->group != NULL) {
		if ((gr = getgrnam(cfg->group)) == NULL) {
			snprintf(err, errlen, "%s: unknown group \"%s\"",
			    cfg->file, cfg->group);
			return -1;
		}
		p->gid = gr->gr_gid;
	}
	p->drop = true;
	return 0;
}

/*
 * Why a file opened without following links is not one to hand over.
 * The worker user owns state_dir and may have put anything there: a
 * symbolic or hard link to a file of root's (/etc/shadow) would make the
 * fchown below give that file away.
 */
static int
privs_check_fd(int fd, const char *path, bool dir, char *err, size_t errlen)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "cannot hand %s to the worker user: %s",
		    path, strerror(errno));
		return -1;
	}
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "refusing to hand %s to the worker user: "
		    "not a %s", path, dir ? "directory" : "regular file");
		return -1;
	}
	if (!dir && st.st_nlink != 1) {
		snprintf(err, errlen, "refusing to hand %s to the worker user: "
		    "it has %ju hard links", path, (uintmax_t)st.st_nlink);
		return -1;
	}
	return 0;
}

/*
 * Open name (relative to dirfd, or AT_FDCWD) for fchown/fchmod without
 * following a final symbolic link, blocking on a FIFO or taking a
 * terminal; path is name as shown.  -1 with the reason in err.
 */
static int
privs_open(int dirfd, const char *name, const char *path, bool dir,
    char *err, size_t errlen)
{
	int	 fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
	if (fd == -1) {
		if (errno == ELOOP)
			snprintf(err, errlen, "refusing to hand %s to the "
			    "worker user: it is a symbolic link", path);
		else
			snprintf(err, errlen, "cannot open %s: %s", path,
			    strerror(errno));
		return -1;
	}
	if (privs_check_fd(fd, path, dir, err, errlen) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
privs_fchown(const struct privs *p, int fd, const char *path, mode_t mode,
    char *err, size_t errlen)
{
	if (fchown(fd, p->uid, p->gid) == -1 ||
	    (mode != 0 && fchmod(fd, mode) == -1)) {
		snprintf(err, errlen, "cannot hand %s to the worker user: %s",
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

/* One file of the store, looked up in the directory already opened. */
static int
privs_store_file(const struct privs *p, int dirfd, const char *dir,
    const char *name, mode_t mode, bool missing_ok, char *err, size_t errlen)
{
	char	 path[PATH_MAX];
	int	 fd, rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = privs_open(dirfd, name, path, false, err, errlen)) == -1)
		return missing_ok && errno == ENOENT ? 0 : -1;
	rc = privs_fchown(p, fd, path, mode, err, errlen);
	close(fd);
	return rc;
}

/*
 * Create a log file the master does not keep open (the access log).  A
 * FIFO or a device (an operator's log collector, /dev/null) is used as it
 * is and never handed over: chowning /dev/null would give it away.
 */
static int
privs_log_file(const struct privs *p, const char *path, char *err,
    size_t errlen)
{
	struct stat	 st;
	int		 fd, rc;

	fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC, 0640);
	if (fd == -1) {
		if (errno == ELOOP)
			snprintf(err, errlen, "refusing to hand %s to the "
			    "worker user: it is a symbolic link", path);
		else
			snprintf(err, errlen, "cannot open log file %s: %s",
			    path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	rc = privs_check_fd(fd, path, false, err, errlen);
	if (rc == 0)
		rc = privs_fchown(p, fd, path, 0, err, errlen);
	close(fd);
	return rc;
}

/*
 * The master has no LMDB environment open here (it never keeps one), so
 * opening and closing lock.mdb drops no fcntl lock of its own.
 */
int
privs_own_store(const struct privs *p, const char *dir, bool missing_ok,
    char *err, size_t errlen)
{
	int	 dirfd, rc;

	if (!p->drop)
		return 0;
	if ((dirfd = privs_open(AT_FDCWD, dir, dir, true, err, errlen)) == -1)
		return -1;
	rc = privs_fchown(p, dirfd, dir, 0, err, errlen);
	if (rc == 0)
		rc = privs_store_file(p, dirfd, dir, "data.mdb", 0, missing_ok,
		    err, errlen);
	/* A read-only LMDB reader still writes its slot into lock.mdb. */
	if (rc == 0)
		rc = privs_store_file(p, dirfd, dir, "lock.mdb", 0660,
		    missing_ok, err, errlen);
	close(dirfd);
	return rc;
}

/*
 * Root's supplementary groups, kept while the master visits the store as
 * the worker user: a root group left in the list would still open files
 * of group root.
 */
static gid_t	*privs_saved_groups;
static int	 privs_nsaved;

int
privs_enter(const struct privs *p)
{
	int	 n;

	if (!p->drop || p->uid == (uid_t)-1)
		return 0;
	if ((n = getgroups(0, NULL)) == -1)
		return -1;
	free(privs_saved_groups);
	if ((privs_saved_groups = calloc((size_t)n + 1,
	    sizeof(*privs_saved_groups))) == NULL ||
	    (privs_nsaved = getgroups(n, privs_saved_groups)) == -1)
		return -1;
	if (setgroups(1, &p->gid) == -1)
		return -1;
	if (setegid(p->gid) == -1 || seteuid(p->uid) == -1) {
		privs_leave(p);
		return -1;
	}
	return 0;
}

void
privs_leave(const struct privs *p)
{
	if (!p->drop || p->uid == (uid_t)-1)
		return;
	/* The saved set-user-ID is root's: this cannot fail. */
	if (seteuid(0) == -1 || setegid(getgid()) == -1 ||
	    setgroups((size_t)privs_nsaved, privs_saved_groups) == -1)
		fatal("cannot return to root after visiting the store");
}

int
privs_own_files(const struct privs *p, const struct shunt_config *cfg,
    char *err, size_t errlen)
{
	char	 more[512];
	int	 rc = 0;

	if (!p->drop)
		return 0;
	/*
	 * Each file on its own: a store removed under a running master must
	 * not keep USR1 from creating the rotated access log.  The first
	 * error is the one reported.
	 */
	if (privs_own_store(p, cfg->state_dir, false, err, errlen) == -1)
		rc = -1;
	if (cfg->log.error != NULL && privs_log_file(p, cfg->log.error,
	    rc == 0 ? err : more, rc == 0 ? errlen : sizeof(more)) == -1)
		rc = -1;
	if (cfg->log.access != NULL && privs_log_file(p, cfg->log.access,
	    rc == 0 ? err : more, rc == 0 ? errlen : sizeof(more)) == -1)
		rc = -1;
	return rc;
}

int
privs_drop(const struct privs *p)
{
	if (!p->drop)
		return 0;
	if (p->user[0] != '\0') {
		if (initgroups(p->user, p->gid) == -1)
			return -1;
	} else if (setgroups(1, &p->gid) == -1) {
		return -1;
	}
	if (p->gid != (gid_t)-1 && setresgid(p->gid, p->gid, p->gid) == -1)
		return -1;
	if (p->uid != (uid_t)-1 && setresuid(p->uid, p->uid, p->uid) == -1)
		return -1;
	/* Paranoia as in OpenBSD daemons: root must be gone for good. */
	if (p->uid != (uid_t)-1 && p->uid != 0 &&
	    (setuid(0) != -1 || seteuid(0) != -1)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}
