/*
 * pidfile.c: write, read and remove the master's pid file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pidfile.h"

pid_t
pidfile_read(const char *path)
{
	char	 buf[32], *end;
	ssize_t	 n;
	long	 pid;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	saved = errno;
	close(fd);
	if (n == -1) {
		errno = saved;
		return -1;
	}
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') ||
	    pid <= 0 || pid > INT_MAX) {
		errno = EINVAL;
		return -1;
	}
	return (pid_t)pid;
}

int
pidfile_check(const char *path, pid_t *holder)
{
	pid_t	 pid;

	*holder = 0;
	if ((pid = pidfile_read(path)) == -1 || pid == getpid())
		return 0;
	if (kill(pid, 0) == -1 && errno != EPERM)
		return 0;
	*holder = pid;
	return -1;
}

int
pidfile_write(const char *path)
{
	char	 tmp[PATH_MAX], buf[32];
	int	 fd, len, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >=
	    sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	/* O_TRUNC: a .tmp left by a crash is ours to reuse. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW |
	    O_NOCTTY, 0644);
	if (fd == -1)
		return -1;
	errno = 0;
	if (write(fd, buf, (size_t)len) != len) {
		if (errno == 0)
			errno = ENOSPC;
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

int
pidfile_remove(const char *path)
{
	pid_t	 pid;

	if ((pid = pidfile_read(path)) == -1)
		return -1;
	if (pid != getpid())
		return 0;
	return unlink(path);
}
