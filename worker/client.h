/*
 * client.h: the client socket's reads and writes, for the connection that
 * owns it and for the request that streams through it.
 */
#ifndef SHUNT_CLIENT_H
#define SHUNT_CLIENT_H

#include "worker-t.h"

/*
 * Read what the client sent into c->in.  Returns 1 when bytes arrived,
 * 0 when none are ready, -1 at end of stream or on error (c->eof set).
 */
int	client_fill(struct conn *c);

/* Write c->out.  0 (written, or the socket is full) or -1 on error. */
int	client_flush(struct conn *c);

/*
 * Set TCP_NODELAY once (it is needed from the second write on; see
 * client.c).
 */
void	client_nodelay(struct conn *c);

#endif /* SHUNT_CLIENT_H */
