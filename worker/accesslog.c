/* accesslog.c: one access-log line per request, tries included. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "log.h"

int
accesslog_open(struct worker *w)
{
	int	 fd;

	if (w->cfg->log.access == NULL)
		return 0;
	fd = open(w->cfg->log.access, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("cannot open access log %s", w->cfg->log.access);
		return -1;
	}
	if (w->access_fd != -1)
		close(w->access_fd);
	w->access_fd = fd;
	return 0;
}

void
accesslog_write(struct worker *w, struct conn *c, struct req *r,
    unsigned status)
{
	char		 line[4096];
	struct tm	 tm;
	time_t		 now;
	size_t		 off = 0, i;
	uint64_t	 ms, bytes;
	int		 n;

	if (w->access_fd == -1)
		return;
	now = time(NULL);
	if ((uint64_t)now != w->log_time_sec) {
		/* Formatted once a second, not once a request. */
		gmtime_r(&now, &tm);
		strftime(w->log_time, sizeof(w->log_time),
		    "%Y-%m-%dT%H:%M:%SZ", &tm);
		w->log_time_sec = (uint64_t)now;
	}
	ms = r != NULL ? loop_now_ms(w->loop) - r->start_ms : 0;
	bytes = r != NULL ? c->bytes_out - r->bytes_at_start : 0;
	if (r != NULL && r->head.raw != NULL && r->head.url_len > 0)
		n = snprintf(line, sizeof(line), "%s [%s] w%u \"%.*s %.*s "
		    "HTTP/%u.%u\" %u %llu %llu.%03llu %s", c->client,
		    w->log_time, w->slot, (int)r->head.method_len, r->head.raw,
		    (int)(r->head.url_len > 1024 ? 1024 : r->head.url_len),
		    r->head.raw + r->head.url_off, r->head.major,
		    r->head.minor, status, (unsigned long long)bytes,
		    (unsigned long long)(ms / 1000),
		    (unsigned long long)(ms % 1000),
		    r->pool != NULL ? r->pool->cfg->name : "-");
	else
		n = snprintf(line, sizeof(line), "%s [%s] w%u \"-\" %u 0 "
		    "0.000 -", c->client, w->log_time, w->slot, status);
	if (n < 0)
		return;
	off = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	for (i = 0; r != NULL && i < r->ntries && off < sizeof(line) - 1;
	    i++) {
		n = snprintf(line + off, sizeof(line) - off, " %s(%s,%llums)",
		    r->tries[i].peer->addr.text,
		    failure_name(r->tries[i].outcome),
		    (unsigned long long)r->tries[i].ms);
		if (n < 0)
			break;
		off += (size_t)n;
		if (off >= sizeof(line) - 1)
			off = sizeof(line) - 2;
	}
	line[off++] = '\n';
	/* One write per line: lines of several workers never interleave. */
	if (write(w->access_fd, line, off) == -1)
		log_debug("access log write failed");
}
