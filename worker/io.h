/*
 * io.h: the transport under a connection, plain TCP today.
 *
 * Every connection reads and writes through these ops, so TLS slots in as
 * another set of ops without touching the HTTP code.  A call that cannot
 * proceed returns -1 with errno EAGAIN and sets io->want to what it waits
 * for (LOOP_READ or LOOP_WRITE): with TLS a read may have to wait for the
 * socket to become writable, and the other way round.
 */
#ifndef SHUNT_IO_H
#define SHUNT_IO_H

#include <sys/types.h>
#include <sys/uio.h>

struct io;

struct io_ops {
	/* >0 bytes, 0 end of stream, -1 with errno (EAGAIN: see io->want) */
	ssize_t	(*read)(struct io *, void *, size_t);
	ssize_t	(*writev)(struct io *, const struct iovec *, int);
	/* 0 done, 1 wait for io->want, -1 failed */
	int	(*handshake)(struct io *);
	/* release transport state; closes the descriptor */
	void	(*close)(struct io *);
};

struct io {
	int			 fd;
	unsigned		 want;
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

static inline void
io_close(struct io *io)
{
	if (io->fd != -1)
		io->ops->close(io);
	io->fd = -1;
}

#endif /* SHUNT_IO_H */
