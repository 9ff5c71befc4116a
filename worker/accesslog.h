/*
 * accesslog.h: one line per request, with every upstream try, so that a
 * failover shows in the log:
 *
 *   127.0.0.1 [2026-11-23T19:30:00Z] w1 "GET /x HTTP/1.1" 200 164 0.004
 *       web 127.0.0.1:9001(connect_refused,0ms) 127.0.0.1:9002(ok,3ms)
 *
 * (one line): client, time, worker slot, request line, status, bytes
 * sent to the client, seconds taken, pool, then each try as
 * peer(outcome,time).
 */
#ifndef SHUNT_ACCESSLOG_H
#define SHUNT_ACCESSLOG_H

#include "worker-t.h"

/* Open (or reopen, for USR1) the configured access log; 0 or -1. */
int	accesslog_open(struct worker *w);

/* r may be NULL for an answer given before a request head was parsed. */
void	accesslog_write(struct worker *w, struct conn *c, struct req *r,
	    unsigned status);

#endif /* SHUNT_ACCESSLOG_H */
