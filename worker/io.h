/*
 * io.h: the transport under a connection: plain TCP or TLS (tls.h).
 *
 * Every connection reads and writes through these ops, so TLS slots in as
 * another set of ops without touching the HTTP code.  A call that cannot
 * proceed returns -1 with errno EAGAIN and sets io->want to what it waits
 * for (LOOP_READ or LOOP_WRITE): with TLS a read may have to wait for the
 * socket to become writable, and the other way round.
 *
 * Both directions keep the contract the edge-triggered callers rely on: a
 * read that returns fewer bytes than asked for, or a write that takes
 * fewer, has met a socket that would block, so the next edge will come;
 * unless io->buffered says the transport still holds something (an end of
 * stream or an error read along with the data) to be read at once.
 */
#ifndef SHUNT_IO_H
#define SHUNT_IO_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "loop.h"

struct io;

struct io_ops {
	/* >0 bytes, 0 end of stream, -1 with errno (EAGAIN: see io->want) */
	ssize_t	(*read)(struct io *, void *, size_t);
	ssize_t	(*writev)(struct io *, const struct iovec *, int);
	/* 0 done, 1 wait for io->want, -1 failed */
	int	(*handshake)(struct io *);
	/* end our sending side (TLS: close_notify first); reads go on */
	void	(*shutdown)(struct io *);
	/* release transport state; closes the descriptor */
	void	(*close)(struct io *);
};

struct io {
	int			 fd;
	unsigned		 want;
	bool			 buffered;	/* read again before waiting */
	bool			 read_waits_write;	/* TLS: the last read */
	bool			 write_waits_read;	/* TLS: the last write */
	const struct io_ops	*ops;
	void			*tls;
};

extern const struct io_ops io_plain_ops;

static inline ssize_t
io_read(struct io *io, void *buf, size_t len)
{
	return io->ops->read(io, buf, len);
}

static inline ssize_t
io_writev(struct io *io, const struct iovec *iov, int n)
{
	return io->ops->writev(io, iov, n);
}

static inline int
io_handshake(struct io *io)
{
	return io->ops->handshake(io);
}

static inline void
io_shutdown(struct io *io)
{
	io->ops->shutdown(io);
}

static inline void
io_close(struct io *io)
{
	if (io->fd != -1)
		io->ops->close(io);
	io->fd = -1;
}

/*
 * The readiness an event from the loop means for this transport: a TLS
 * read that waited for the socket to take its output may go on once the
 * socket is writable, and a write that waited for input once it is
 * readable.
 */
static inline unsigned
io_ready(const struct io *io, unsigned revents)
{
	if ((revents & LOOP_WRITE) && io->read_waits_write)
		revents |= LOOP_READ;
	if ((revents & LOOP_READ) && io->write_waits_read)
		revents |= LOOP_WRITE;
	return revents;
}

#endif /* SHUNT_IO_H */
