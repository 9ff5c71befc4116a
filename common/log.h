/*
 * log.h: the error log, shaped like OpenBSD's log.c.
 *
 * One per-process logging context.  Until log_open() names a file, messages
 * go to stderr (or syslog, for a daemon).  log_warn() appends
 * strerror(errno); every function leaves errno as it found it.  fatal()/fatalx() log and exit(1): for the master
 * before it serves and for broken invariants only, never for a bad request.
 */
#ifndef SHUNT_LOG_H
#define SHUNT_LOG_H

#include <stdarg.h>

#include "log-t.h"

void	log_init(const char *procname, enum cfg_log_level level);
/* Append to path (created 0640); NULL returns to stderr.  0 or -1. */
int	log_open(const char *path);
/*
 * While no log file is open, log to syslog (facility daemon) instead of
 * stderr, which a daemon has pointed at /dev/null.
 */
void	log_use_syslog(void);
void	log_set_procname(const char *procname);
void	log_set_level(enum cfg_log_level level);
enum cfg_log_level log_get_level(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	vlog(enum cfg_log_level, int with_errno, const char *, va_list)
	    __attribute__((format(printf, 3, 0)));

#endif /* SHUNT_LOG_H */
