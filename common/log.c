/* log.c: the error log of every process: master, workers, shuntctl. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static struct {
	const char		*procname;
	enum cfg_log_level	 level;
	int			 fd;		/* -1: stderr or syslog */
	int			 syslog;	/* a daemon without log.error */
} log_ctx = { "shunt", CFG_LOG_INFO, -1, 0 };

static const char *const log_level_names[] = {
	[CFG_LOG_ERROR] = "error",
	[CFG_LOG_WARN] = "warn",
	[CFG_LOG_INFO] = "info",
	[CFG_LOG_DEBUG] = "debug",
};

void
log_init(const char *procname, enum cfg_log_level level)
{
	log_ctx.procname = procname;
	log_ctx.level = level;
}

void
log_set_procname(const char *procname)
{
	log_ctx.procname = procname;
}

void
log_set_level(enum cfg_log_level level)
{
	log_ctx.level = level;
}

enum cfg_log_level
log_get_level(void)
{
	return log_ctx.level;
}

void
log_use_syslog(void)
{
	openlog("shunt", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_ctx.syslog = 1;
}

int
log_open(const char *path)
{
	int	 fd;

	if (path == NULL) {
		if (log_ctx.fd != -1)
			close(log_ctx.fd);
		log_ctx.fd = -1;
		return 0;
	}
	/*
	 * Not through a link: the master opens it as root, in a directory
	 * whose files it hands to the worker user.
	 */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY |
	    O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (log_ctx.fd != -1)
		close(log_ctx.fd);
	log_ctx.fd = fd;
	return 0;
}

static void
vlog_syslog(enum cfg_log_level level, int with_errno, int err,
    const char *fmt, va_list ap)
{
	static const int prio[] = {
		[CFG_LOG_ERROR] = LOG_ERR,
		[CFG_LOG_WARN] = LOG_WARNING,
		[CFG_LOG_INFO] = LOG_INFO,
		[CFG_LOG_DEBUG] = LOG_DEBUG,
	};
	char	 msg[2048];

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno)
		syslog(prio[level], "%s: %s: %s", log_ctx.procname, msg,
		    strerror(err));
	else
		syslog(prio[level], "%s: %s", log_ctx.procname, msg);
}

void
vlog(enum cfg_log_level level, int with_errno, const char *fmt, va_list ap)
{
	char		 line[2048];
	struct tm	 tm;
	time_t		 now;
	int		 saved_errno = errno, off, n;

	if (level > log_ctx.level)
		return;
	if (log_ctx.fd == -1 && log_ctx.syslog) {
		vlog_syslog(level, with_errno, saved_errno, fmt, ap);
		errno = saved_errno;
		return;
	}
	now = time(NULL);
	gmtime_r(&now, &tm);
	off = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(line + off, sizeof(line) - (size_t)off, " [%s] %s[%d]: ",
	    log_level_names[level], log_ctx.procname, (int)getpid());
	if (n > 0)
		off += n;
	if (off < (int)sizeof(line)) {
		n = vsnprintf(line + off, sizeof(line) - (size_t)off, fmt, ap);
		if (n > 0)
			off += n;
	}
	if (off >= (int)sizeof(line) - 1)
		off = (int)sizeof(line) - 2;
	if (with_errno)
		off += snprintf(line + off, sizeof(line) - (size_t)off, ": %s",
		    strerror(saved_errno));
	if (off >= (int)sizeof(line) - 1)
		off = (int)sizeof(line) - 2;
	line[off++] = '\n';
	/* One write per line so that lines from several workers never mix. */
	if (write(log_ctx.fd == -1 ? STDERR_FILENO : log_ctx.fd, line,
	    (size_t)off) == -1) {
		/* nowhere left to report it */
	}
	errno = saved_errno;
}

#define LOG_FN(name, level, with_errno)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	 ap;						\
								\
	va_start(ap, fmt);					\
	vlog(level, with_errno, fmt, ap);			\
	va_end(ap);						\
}

LOG_FN(log_warn, CFG_LOG_WARN, 1)
LOG_FN(log_warnx, CFG_LOG_WARN, 0)
LOG_FN(log_error, CFG_LOG_ERROR, 0)
LOG_FN(log_info, CFG_LOG_INFO, 0)
LOG_FN(log_debug, CFG_LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(CFG_LOG_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(CFG_LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
