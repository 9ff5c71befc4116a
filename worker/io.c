#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "loop.h"

static ssize_t
io_plain_read(struct io *io, void *buf, size_t len)
{
	ssize_t	 n;

	do {
		n = read(io->fd, buf, len);
	} while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		io->want = LOOP_READ;
	return n;
}

static ssize_t
io_plain_writev(struct io *io, const struct iovec *iov, int cnt)
{
	ssize_t	 n;

	do {
		n = writev(io->fd, iov, cnt);
	} while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		io->want = LOOP_WRITE;
	return n;
}

static int
io_plain_handshake(struct io *io)
{
	(void)io;
	return 0;
}

static void
io_plain_shutdown(struct io *io)
{
	(void)shutdown(io->fd, SHUT_WR);
}

static void
io_plain_close(struct io *io)
{
	close(io->fd);
}

const struct io_ops io_plain_ops = {
	io_plain_read,
	io_plain_writev,
	io_plain_handshake,
	io_plain_shutdown,
	io_plain_close,
};
