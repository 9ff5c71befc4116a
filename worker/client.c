/* client.c: reads and writes on a client connection's socket. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "buf.h"
#include "client.h"

#define CLIENT_READ_CHUNK	(16 * 1024)

/*
 * Nagle holds a small segment while an earlier small one is unacked, and
 * a client may delay its ACK by 40 ms: a second write to the client (a
 * response streamed in pieces, the next response on a keep-alive
 * connection) goes out with TCP_NODELAY.  The first write never waits,
 * so a connection that carries one small response skips the call.
 */
void
client_nodelay(struct conn *c)
{
	int	 one = 1;

	if (c->nodelay)
		return;
	c->nodelay = true;
	(void)setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one));
}

int
client_fill(struct conn *c)
{
	size_t	 space;
	ssize_t	 n;

	if (buf_reserve(&c->in, CLIENT_READ_CHUNK) == -1)
		return -1;
	space = c->in.cap - c->in.len;
	n = io_read(&c->io, c->in.data + c->in.len, space);
	if (n > 0) {
		c->in.len += (size_t)n;
		/* A short read drained the socket: the next edge says more,
		 * unless the end of file came with this data. */
		if ((size_t)n < space && !c->hup && !c->io.buffered)
			c->readable = false;
		return 1;
	}
	if (n == -1 && errno == EAGAIN) {
		c->readable = false;
		return 0;
	}
	c->readable = false;
	c->eof = true;
	return -1;
}

int
client_flush(struct conn *c)
{
	struct iovec	 iov;
	ssize_t		 n;

	if (c->bytes_out > 0 && buf_used(&c->out) > 0)
		client_nodelay(c);
	while (buf_used(&c->out) > 0) {
		iov.iov_base = buf_start(&c->out);
		iov.iov_len = buf_used(&c->out);
		n = io_writev(&c->io, &iov, 1);
		if (n == -1) {
			if (errno == EAGAIN) {
				c->writable = false;
				return 0;
			}
			return -1;
		}
		c->bytes_out += (size_t)n;
		buf_consume(&c->out, (size_t)n);
	}
	return 0;
}
