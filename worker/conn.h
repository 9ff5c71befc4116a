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
 * Close now.  A request in flight is logged and freed; the struct itself
 * is freed once no handler of c is on the stack.  Then w->conn_closed.
 */
void	conn_close(struct conn *c);

/*
 * Graceful stop: close every idle keep-alive connection; one that has had
 * no answer yet (just accepted, or in its TLS handshake) gets a short grace
 * to send its request, served with Connection: close.
 */
void	conn_close_idle(struct worker *w);

#endif /* SHUNT_CONN_H */
