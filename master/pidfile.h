/*
 * pidfile.h: the master's pid file, for `shunt -s` and init scripts.
 */
#ifndef SHUNT_PIDFILE_H
#define SHUNT_PIDFILE_H

#include <sys/types.h>

/*
 * The pid written in path.  Returns it (> 0), or -1 with errno from
 * open(2)/read(2), or EINVAL when the file holds no plausible pid.
 */
pid_t	pidfile_read(const char *path);

/*
 * Whether path names a live process other than this one.  0: it does not
 * (no file, a stale or unreadable pid, or our own).  -1: it does, and
 * *holder is that pid.  A process we may not signal (EPERM) counts as
 * live: it exists.
 */
int	pidfile_check(const char *path, pid_t *holder);

/*
 * Write getpid() to path atomically: into "path.tmp", then rename(2), so
 * that a reader sees the old file or the whole new one.  0, or -1 with
 * errno (the temporary file is removed).
 */
int	pidfile_write(const char *path);

/*
 * Remove path if it still names this process; a file some other instance
 * wrote since is not ours to delete and is left alone.  0, or -1 with
 * errno (ENOENT: it is gone already).
 */
int	pidfile_remove(const char *path);

#endif /* SHUNT_PIDFILE_H */
