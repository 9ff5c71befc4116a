/*
 * privs.c: resolve the worker user, hand it its files, drop to it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
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

static int
privs_chown(const struct privs *p, const char *path, mode_t mode,
    char *err, size_t errlen)
{
	if (chown(path, p->uid, p->gid) == -1 ||
	    (mode != 0 && chmod(path, mode) == -1)) {
		snprintf(err, errlen, "cannot hand %s to the worker user: %s",
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Create a log file the master does not keep open (the access log). */
static int
privs_log_file(const struct privs *p, const char *path, char *err,
    size_t errlen)
{
	int	 fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0640);
	if (fd == -1) {
		snprintf(err, errlen, "cannot open log file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fchown(fd, p->uid, p->gid) == -1) {
		snprintf(err, errlen, "cannot hand %s to the worker user: %s",
		    path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
privs_own_files(const struct privs *p, const struct shunt_config *cfg,
    char *err, size_t errlen)
{
	char	 path[PATH_MAX];

	if (!p->drop)
		return 0;
	if (privs_chown(p, cfg->state_dir, 0, err, errlen) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/data.mdb", cfg->state_dir);
	if (privs_chown(p, path, 0, err, errlen) == -1)
		return -1;
	/* A read-only LMDB reader still writes its slot into lock.mdb. */
	snprintf(path, sizeof(path), "%s/lock.mdb", cfg->state_dir);
	if (privs_chown(p, path, 0660, err, errlen) == -1)
		return -1;
	if (cfg->log.error != NULL &&
	    privs_log_file(p, cfg->log.error, err, errlen) == -1)
		return -1;
	if (cfg->log.access != NULL &&
	    privs_log_file(p, cfg->log.access, err, errlen) == -1)
		return -1;
	return 0;
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
