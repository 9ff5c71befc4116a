/*
 * conn.h: client connections: accept, request heads, keep-alive and
 * pipelining, writing answers, closing.
 */
#ifndef SHUNT_CONN_H
#define SHUNT_CONN_H

#include <sys/socket.h>

#include "worker-t.h"

/* Take a new connection accepted on l. */
void	conn_new(struct worker *w, struct listener_rt *l, int fd,
	    const struct sockaddr_storage *sa);

/*
 * Read what the client sent into c->in.  Returns 1 when bytes arrived,
 * 0 when none are ready, -1 at end of stream or on error.
 */
int	conn_fill(struct conn *c);

/* Write c->out.  0 (written, or the socket is full) or -1 on error. */
int	conn_flush(struct conn *c);

/*
 * The response to c->req was written whole: log it, free it, then keep
 * the connection for the next request or close it.  c->req is gone when
 * this returns; c too when it was closed.
 */
void	conn_request_done(struct conn *c);

/*
 * Close now.  A request in flight is logged and freed; the struct itself
 * is freed once no handler of c is on the stack (conn_enter/conn_leave).
 */
void	conn_close(struct conn *c);

void	conn_enter(struct conn *c);
void	conn_leave(struct conn *c);

/* Arm the client-side timer that fits what c waits for. */
void	conn_update_timer(struct conn *c);

/*
 * Graceful stop: close every idle keep-alive connection; one that has had
 * no answer yet (just accepted, or in its TLS handshake) gets a short grace
 * to send its request, served with Connection: close.
 */
void	conn_close_idle(struct worker *w);

#endif /* SHUNT_CONN_H */
