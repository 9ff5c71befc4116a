/*
 * daemon.c: double fork, setsid, and a pipe that carries the start-up
 * verdict back to the command the operator typed.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"

#define DAEMON_READY	'R'

static void __attribute__((noreturn))
daemon_wait_parent(int fd, pid_t child)
{
	char	 c = 0;
	ssize_t	 n;

	/* The intermediate child exits at once; reap it, not the daemon. */
	while (waitpid(child, NULL, 0) == -1 && errno == EINTR)
		;
	do
		n = read(fd, &c, 1);
	while (n == -1 && errno == EINTR);
	_exit(n == 1 && c == DAEMON_READY ? 0 : 1);
}

int
daemon_detach(void)
{
	int	 p[2];
	pid_t	 pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	fflush(NULL);
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		daemon_wait_parent(p[0], pid);
	}
	close(p[0]);
	if (setsid() == -1) {
		perror("shunt: setsid");
		_exit(1);
	}
	if ((pid = fork()) == -1) {
		perror("shunt: fork");
		_exit(1);
	}
	if (pid > 0)
		_exit(0);
	/* Relative paths were made absolute before: "/" pins no mount. */
	if (chdir("/") == -1) {
		perror("shunt: chdir /");
		_exit(1);
	}
	return p[1];
}

void
daemon_ready(int fd)
{
	char	 c = DAEMON_READY;
	int	 null;

	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		(void)dup2(null, STDIN_FILENO);
		(void)dup2(null, STDOUT_FILENO);
		(void)dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	if (write(fd, &c, 1) != 1) {
		/* the parent is gone: nobody is left to tell */
	}
	close(fd);
}
