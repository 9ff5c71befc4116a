/*
 * test_loop.c: unit tests for worker/loop.c.
 *
 * Real descriptors (socketpairs, pipes) and the real clock.  Nothing asserts
 * that something happened within a time: only that it has happened after
 * enough time, or not yet when far from due.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "loop.h"
#include "tap.h"

/* Far enough away that no slow machine reaches it during a test. */
#define FAR_MS	600000

struct io_rec {
	int		 calls;
	int		 fd;
	unsigned	 last;		/* revents of the latest call */
	unsigned	 all;		/* revents of all calls, or'ed */
};

static void
sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
make_socketpair(int sv[2])
{
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void
make_pipe(int p[2])
{
	CU_ASSERT_EQUAL_FATAL(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void
put_byte(int fd)
{
	CU_ASSERT_EQUAL(write(fd, "x", 1), 1);
}

static void
drain(int fd)
{
	char	 buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void
io_count(struct loop *loop, int fd, unsigned revents, void *arg)
{
	struct io_rec	*r = arg;

	(void)loop;
	CU_ASSERT_NOT_EQUAL(revents, 0);
	r->calls++;
	r->fd = fd;
	r->last = revents;
	r->all |= revents;
}

/*
 * Lifecycle and argument checks.
 */

static void
test_new_free(void)
{
	struct loop	*loop;

	errno = 0;
	CU_ASSERT_PTR_NULL(loop_new(0));
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_PTR_NULL(loop_new(-5));
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_PTR_NULL(loop_new(INT_MAX));
	CU_ASSERT_EQUAL(errno, EINVAL);

	loop = loop_new(1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	CU_ASSERT_NOT_EQUAL(loop_now_ms(loop), 0);
	loop_free(loop);
	loop_free(NULL);
}

static void
test_cloexec(void)
{
	struct loop	*loop;
	char		 path[64], target[64];
	ssize_t		 n;
	int		 fd;

	/* The epoll descriptor takes the lowest free number: find it. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	CU_ASSERT_FATAL(n > 0);
	target[n] = '\0';
	CU_ASSERT_STRING_EQUAL(target, "anon_inode:[eventpoll]");
	CU_ASSERT((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	loop_free(loop);
	/* loop_free() closed it. */
	CU_ASSERT_EQUAL(fcntl(fd, F_GETFD), -1);
}

static void
test_errors(void)
{
	struct loop	*loop;
	struct io_rec	 r = { 0 };
	int		 sv[2], devnull;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	make_socketpair(sv);

	errno = 0;
	CU_ASSERT_EQUAL(loop_add(loop, -1, LOOP_READ, io_count, &r), -1);
	CU_ASSERT_EQUAL(errno, EBADF);
	errno = 0;
	CU_ASSERT_EQUAL(loop_add(loop, sv[0], 0x100, io_count, &r), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_ERROR, io_count, &r), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	errno = 0;
	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_READ, NULL, &r), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);

	errno = 0;
	CU_ASSERT_EQUAL(loop_mod(loop, sv[0], LOOP_READ), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	errno = 0;
	CU_ASSERT_EQUAL(loop_del(loop, sv[0]), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	errno = 0;
	CU_ASSERT_EQUAL(loop_del(loop, -3), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	errno = 0;
	CU_ASSERT_EQUAL(loop_mod(loop, 100000, LOOP_READ), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);

	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_READ, io_count, &r), 0);
	errno = 0;
	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_WRITE, io_count, &r), -1);
	CU_ASSERT_EQUAL(errno, EEXIST);
	errno = 0;
	CU_ASSERT_EQUAL(loop_mod(loop, sv[0], LOOP_READ | 0x40), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(loop_del(loop, sv[0]), 0);
	/* Registering again after a delete is fine. */
	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_READ, io_count, &r), 0);
	CU_ASSERT_EQUAL(loop_del(loop, sv[0]), 0);

	/* epoll's own refusal comes through and leaves nothing behind. */
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(devnull >= 0);
	errno = 0;
	CU_ASSERT_EQUAL(loop_add(loop, devnull, LOOP_READ, io_count, &r), -1);
	CU_ASSERT_EQUAL(errno, EPERM);
	errno = 0;
	CU_ASSERT_EQUAL(loop_del(loop, devnull), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	close(devnull);

	/* Closed before loop_del(): the record is still released. */
	CU_ASSERT_EQUAL(loop_add(loop, sv[1], LOOP_READ, io_count, &r), 0);
	close(sv[1]);
	CU_ASSERT_EQUAL(loop_del(loop, sv[1]), 0);
	errno = 0;
	CU_ASSERT_EQUAL(loop_del(loop, sv[1]), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);

	CU_ASSERT_EQUAL(r.calls, 0);
	close(sv[0]);
	loop_free(loop);
}

/*
 * Descriptors.
 */

static void
test_socketpair_add_mod_del(void)
{
	struct loop	*loop;
	struct io_rec	 r = { 0 };
	int		 sv[2];

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	make_socketpair(sv);

	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_READ, io_count, &r), 0);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL(r.calls, 0);

	put_byte(sv[1]);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(r.calls, 1);
	CU_ASSERT_EQUAL(r.fd, sv[0]);
	CU_ASSERT_EQUAL(r.last, LOOP_READ);
	/* Level-triggered: reported again until read. */
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(r.calls, 2);
	drain(sv[0]);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL(r.calls, 2);

	/* Writable, and only reported once asked for. */
	CU_ASSERT_EQUAL(loop_mod(loop, sv[0], LOOP_WRITE), 0);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(r.last, LOOP_WRITE);

	/* Both ready: one call with both bits. */
	put_byte(sv[1]);
	CU_ASSERT_EQUAL(loop_mod(loop, sv[0], LOOP_READ | LOOP_WRITE), 0);
	r.calls = 0;
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(r.calls, 1);
	CU_ASSERT_EQUAL(r.last, LOOP_READ | LOOP_WRITE);

	/* No interest: nothing while the peer is alive. */
	CU_ASSERT_EQUAL(loop_mod(loop, sv[0], 0), 0);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);

	CU_ASSERT_EQUAL(loop_mod(loop, sv[0], LOOP_READ), 0);
	CU_ASSERT_EQUAL(loop_del(loop, sv[0]), 0);
	r.calls = 0;
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL(r.calls, 0);

	close(sv[0]);
	close(sv[1]);
	loop_free(loop);
}

static void
test_socketpair_eof(void)
{
	struct loop	*loop;
	struct io_rec	 r = { 0 };
	char		 c;
	int		 sv[2];

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	make_socketpair(sv);
	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_READ, io_count, &r), 0);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);

	put_byte(sv[1]);
	close(sv[1]);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT((r.last & LOOP_READ) != 0);
	CU_ASSERT_EQUAL(read(sv[0], &c, 1), 1);
	/* The data came first; end of file is still reported after it. */
	r.calls = 0;
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(r.calls, 1);
	CU_ASSERT((r.last & LOOP_READ) != 0);
	CU_ASSERT_EQUAL(read(sv[0], &c, 1), 0);

	CU_ASSERT_EQUAL(loop_del(loop, sv[0]), 0);
	close(sv[0]);
	loop_free(loop);
}

static void
test_socketpair_half_close(void)
{
	struct loop	*loop;
	struct io_rec	 r = { 0 };
	char		 c;
	int		 sv[2];

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	make_socketpair(sv);
	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_READ, io_count, &r), 0);

	/* A client that shuts down its sending side is not an error. */
	CU_ASSERT_EQUAL(shutdown(sv[1], SHUT_WR), 0);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	/* LOOP_HUP tells an edge-triggered reader to read on to EOF. */
	CU_ASSERT_EQUAL(r.last, LOOP_READ | LOOP_HUP);
	CU_ASSERT_EQUAL(read(sv[0], &c, 1), 0);

	CU_ASSERT_EQUAL(loop_del(loop, sv[0]), 0);
	close(sv[0]);
	close(sv[1]);
	loop_free(loop);
}

static void
test_forget_then_close(void)
{
	struct loop	*loop;
	struct io_rec	 r = { 0 };
	int		 sv[2];

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	make_socketpair(sv);
	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_READ, io_count, &r), 0);
	CU_ASSERT_EQUAL(write(sv[1], "x", 1), 1);
	/* Forgotten and closed: no callback, and the fd can be added anew. */
	CU_ASSERT_EQUAL(loop_forget(loop, sv[0]), 0);
	CU_ASSERT_EQUAL(loop_forget(loop, sv[0]), -1);
	close(sv[0]);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL(r.calls, 0);
	close(sv[1]);
	loop_free(loop);
}

static void
test_pipe(void)
{
	struct loop	*loop;
	struct io_rec	 rd = { 0 }, wr = { 0 };
	char		 c;
	int		 p[2];

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	make_pipe(p);
	CU_ASSERT_EQUAL(loop_add(loop, p[0], LOOP_READ, io_count, &rd), 0);
	CU_ASSERT_EQUAL(loop_add(loop, p[1], LOOP_WRITE, io_count, &wr), 0);

	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(rd.calls, 0);
	CU_ASSERT_EQUAL(wr.calls, 1);
	CU_ASSERT_EQUAL(wr.fd, p[1]);
	CU_ASSERT_EQUAL(wr.last, LOOP_WRITE);

	put_byte(p[1]);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 2);
	CU_ASSERT_EQUAL(rd.calls, 1);
	CU_ASSERT_EQUAL(rd.fd, p[0]);
	CU_ASSERT_EQUAL(rd.last, LOOP_READ);

	/* Writer gone with data still buffered: data, then end of file. */
	put_byte(p[1]);
	CU_ASSERT_EQUAL(loop_del(loop, p[1]), 0);
	close(p[1]);
	rd.calls = 0;
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(rd.calls, 1);
	CU_ASSERT((rd.last & LOOP_READ) != 0);
	CU_ASSERT_EQUAL(read(p[0], &c, 1), 1);
	CU_ASSERT_EQUAL(read(p[0], &c, 1), 1);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(rd.calls, 2);
	CU_ASSERT((rd.last & LOOP_READ) != 0);
	CU_ASSERT_EQUAL(read(p[0], &c, 1), 0);

	CU_ASSERT_EQUAL(loop_del(loop, p[0]), 0);
	close(p[0]);
	loop_free(loop);
}

static void
test_pipe_broken(void)
{
	struct loop	*loop;
	struct io_rec	 wr = { 0 };
	int		 p[2];

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	make_pipe(p);
	close(p[0]);
	CU_ASSERT_EQUAL(loop_add(loop, p[1], LOOP_WRITE, io_count, &wr), 0);

	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(wr.last & (LOOP_WRITE | LOOP_ERROR),
	    LOOP_WRITE | LOOP_ERROR);
	CU_ASSERT_EQUAL(wr.last & LOOP_READ, 0);
	errno = 0;
	CU_ASSERT_EQUAL(write(p[1], "x", 1), -1);
	CU_ASSERT_EQUAL(errno, EPIPE);

	/* An error is reported even with no interest at all. */
	CU_ASSERT_EQUAL(loop_mod(loop, p[1], 0), 0);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(wr.last, LOOP_ERROR);

	CU_ASSERT_EQUAL(loop_del(loop, p[1]), 0);
	close(p[1]);
	loop_free(loop);
}

static void
test_edge(void)
{
	struct loop	*loop;
	struct io_rec	 r = { 0 };
	int		 sv[2];

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	make_socketpair(sv);
	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_READ | LOOP_EDGE,
	    io_count, &r), 0);

	put_byte(sv[1]);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(r.last, LOOP_READ);
	/* Not drained, yet not reported again: no new edge. */
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL(r.calls, 1);

	put_byte(sv[1]);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(r.calls, 2);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);

	/* loop_mod() re-arms the edge. */
	CU_ASSERT_EQUAL(loop_mod(loop, sv[0], LOOP_READ | LOOP_EDGE), 0);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(r.calls, 3);

	CU_ASSERT_EQUAL(loop_del(loop, sv[0]), 0);
	close(sv[0]);
	close(sv[1]);
	loop_free(loop);
}

/*
 * The first of two ready descriptors to be called deletes and closes the
 * other, puts a new readable file under the same number, and registers a
 * descriptor numbered high enough to make the loop grow its fd table.
 * The event already collected for the old file must not reach anything.
 */
#define HIGH_FD	900

struct batch {
	struct loop	*loop;
	int		 rd[2];		/* registered read ends */
	int		 wr[2];		/* their peers */
	int		 killer_calls;
	int		 victim;	/* the fd number taken over */
	struct io_rec	 replaced;	/* the new file under victim */
	struct io_rec	 high;
	int		 pipe_w, high_w;
};

static void
batch_cb(struct loop *loop, int fd, unsigned revents, void *arg)
{
	struct batch	*b = arg;
	int		 p[2], q[2], other;

	(void)revents;
	b->killer_calls++;
	drain(fd);
	if (b->killer_calls > 1)
		return;

	other = fd == b->rd[0] ? b->rd[1] : b->rd[0];
	b->victim = other;
	CU_ASSERT_EQUAL(loop_del(loop, other), 0);
	/* Made while other is open, so that the pipe gets new numbers. */
	make_pipe(p);
	put_byte(p[1]);
	CU_ASSERT_EQUAL(close(other), 0);
	CU_ASSERT_EQUAL(dup2(p[0], other), other);
	close(p[0]);
	b->pipe_w = p[1];
	CU_ASSERT_EQUAL(loop_add(loop, other, LOOP_READ, io_count,
	    &b->replaced), 0);

	make_pipe(q);
	put_byte(q[1]);
	CU_ASSERT_EQUAL(dup2(q[0], HIGH_FD), HIGH_FD);
	close(q[0]);
	b->high_w = q[1];
	CU_ASSERT_EQUAL(loop_add(loop, HIGH_FD, LOOP_READ, io_count,
	    &b->high), 0);
}

static void
test_delete_other_in_batch(void)
{
	struct batch	 b;
	int		 a[2], c[2];

	memset(&b, 0, sizeof(b));
	b.loop = loop_new(16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b.loop);
	make_socketpair(a);
	make_socketpair(c);
	b.rd[0] = a[0];
	b.rd[1] = c[0];
	b.wr[0] = a[1];
	b.wr[1] = c[1];
	CU_ASSERT_EQUAL(loop_add(b.loop, a[0], LOOP_READ, batch_cb, &b), 0);
	CU_ASSERT_EQUAL(loop_add(b.loop, c[0], LOOP_READ, batch_cb, &b), 0);
	put_byte(a[1]);
	put_byte(c[1]);

	/* Both events are in this one batch; only the first is delivered. */
	CU_ASSERT_EQUAL(loop_once(b.loop, 0), 1);
	CU_ASSERT_EQUAL(b.killer_calls, 1);
	CU_ASSERT_EQUAL(b.replaced.calls, 0);
	CU_ASSERT_EQUAL(b.high.calls, 0);

	/* The new registrations work from the next wait on. */
	CU_ASSERT_EQUAL(loop_once(b.loop, 0), 2);
	CU_ASSERT_EQUAL(b.killer_calls, 1);
	CU_ASSERT_EQUAL(b.replaced.calls, 1);
	CU_ASSERT_EQUAL(b.replaced.fd, b.victim);
	CU_ASSERT_EQUAL(b.high.calls, 1);
	CU_ASSERT_EQUAL(b.high.fd, HIGH_FD);

	CU_ASSERT_EQUAL(loop_del(b.loop, b.victim), 0);
	CU_ASSERT_EQUAL(loop_del(b.loop, HIGH_FD), 0);
	CU_ASSERT_EQUAL(loop_del(b.loop, b.victim == a[0] ? c[0] : a[0]), 0);
	close(a[0]);
	close(a[1]);
	close(c[0]);
	close(c[1]);
	close(b.pipe_w);
	close(HIGH_FD);
	close(b.high_w);
	loop_free(b.loop);
}

struct selfdel {
	int	 calls;
	int	 peer_fd;
};

static void
selfdel_cb(struct loop *loop, int fd, unsigned revents, void *arg)
{
	struct selfdel	*s = arg;

	(void)revents;
	s->calls++;
	CU_ASSERT_EQUAL(loop_del(loop, fd), 0);
	close(fd);
}

static void
test_delete_self(void)
{
	struct loop	*loop;
	struct selfdel	 s = { 0, -1 };
	int		 sv[2];

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	make_socketpair(sv);
	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_READ | LOOP_WRITE,
	    selfdel_cb, &s), 0);
	put_byte(sv[1]);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(s.calls, 1);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL(s.calls, 1);
	close(sv[1]);
	loop_free(loop);
}

/*
 * Two ready descriptors whose callbacks each drop all interest in the
 * other: whichever the kernel hands over first, the other's collected READ
 * no longer matches its interest and must not be delivered.
 */
struct quiet {
	int	 fd[2];
	int	 calls[2];
};

static void
quiet_cb(struct loop *loop, int fd, unsigned revents, void *arg)
{
	struct quiet	*q = arg;
	int		 me = fd == q->fd[0] ? 0 : 1;

	(void)revents;
	q->calls[me]++;
	CU_ASSERT_EQUAL(loop_mod(loop, q->fd[1 - me], 0), 0);
}

static void
test_mod_other_in_batch(void)
{
	struct loop	*loop;
	struct quiet	 q;
	int		 a[2], b[2], first;

	memset(&q, 0, sizeof(q));
	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	make_pipe(a);
	make_pipe(b);
	q.fd[0] = a[0];
	q.fd[1] = b[0];
	put_byte(a[1]);
	put_byte(b[1]);
	CU_ASSERT_EQUAL(loop_add(loop, a[0], LOOP_READ, quiet_cb, &q), 0);
	CU_ASSERT_EQUAL(loop_add(loop, b[0], LOOP_READ, quiet_cb, &q), 0);

	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(q.calls[0] + q.calls[1], 1);
	first = q.calls[0] == 1 ? 0 : 1;
	/* The silenced one stays silent though still readable. */
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(q.calls[first], 2);
	CU_ASSERT_EQUAL(q.calls[1 - first], 0);

	CU_ASSERT_EQUAL(loop_del(loop, a[0]), 0);
	CU_ASSERT_EQUAL(loop_del(loop, b[0]), 0);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	loop_free(loop);
}

/*
 * Timers.
 */

struct order {
	int	 fired[16];
	int	 n;
};

struct otimer {
	struct loop_timer	 t;
	struct order		*order;
	int			 id;
};

static void
order_cb(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct otimer	*o = arg;

	(void)loop;
	CU_ASSERT_PTR_EQUAL(t, &o->t);
	CU_ASSERT_FALSE(loop_timer_armed(t));
	if (o->order->n < 16)
		o->order->fired[o->order->n++] = o->id;
}

static void
test_timer_order_same_tick(void)
{
	struct loop	*loop;
	struct order	 ord = { { 0 }, 0 };
	struct otimer	 t[4];
	uint64_t	 after[4] = { 30, 10, 20, 10 };
	int		 i;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	for (i = 0; i < 4; i++) {
		t[i].order = &ord;
		t[i].id = i;
		loop_timer_init(&t[i].t, order_cb, &t[i]);
		CU_ASSERT_FALSE(loop_timer_armed(&t[i].t));
		CU_ASSERT_EQUAL(loop_timer_set(loop, &t[i].t, after[i]), 0);
		CU_ASSERT_TRUE(loop_timer_armed(&t[i].t));
	}

	/* All due by the time the loop looks: one round, deadline order. */
	sleep_ms(50);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 4);
	CU_ASSERT_EQUAL_FATAL(ord.n, 4);
	CU_ASSERT_EQUAL(ord.fired[0], 1);
	CU_ASSERT_EQUAL(ord.fired[1], 3);	/* tie: arming order */
	CU_ASSERT_EQUAL(ord.fired[2], 2);
	CU_ASSERT_EQUAL(ord.fired[3], 0);
	for (i = 0; i < 4; i++)
		CU_ASSERT_FALSE(loop_timer_armed(&t[i].t));
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	loop_free(loop);
}

static void
test_timer_order_across_waits(void)
{
	struct loop	*loop;
	struct order	 ord = { { 0 }, 0 };
	struct otimer	 t[3];
	uint64_t	 after[3] = { 40, 5, 20 };
	int		 i, rounds;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	for (i = 0; i < 3; i++) {
		t[i].order = &ord;
		t[i].id = i;
		loop_timer_init(&t[i].t, order_cb, &t[i]);
		CU_ASSERT_EQUAL(loop_timer_set(loop, &t[i].t, after[i]), 0);
	}
	/* The wait itself is bounded by the next deadline. */
	for (rounds = 0; ord.n < 3 && rounds < 1000; rounds++)
		CU_ASSERT(loop_once(loop, -1) >= 0);
	CU_ASSERT_EQUAL_FATAL(ord.n, 3);
	CU_ASSERT_EQUAL(ord.fired[0], 1);
	CU_ASSERT_EQUAL(ord.fired[1], 2);
	CU_ASSERT_EQUAL(ord.fired[2], 0);
	loop_free(loop);
}

static void
test_timer_not_yet_and_timeout(void)
{
	struct loop	*loop;
	struct order	 ord = { { 0 }, 0 };
	struct otimer	 t = { .order = &ord, .id = 7 };
	struct loop_timer st = LOOP_TIMER_INITIALIZER(order_cb, &t);

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);

	/* Nothing registered, nothing armed: the wait just times out. */
	CU_ASSERT_EQUAL(loop_once(loop, 20), 0);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);

	CU_ASSERT_FALSE(loop_timer_armed(&st));
	loop_timer_init(&t.t, order_cb, &t);
	CU_ASSERT_EQUAL(loop_timer_set(loop, &t.t, FAR_MS), 0);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL(loop_once(loop, 20), 0);
	CU_ASSERT_TRUE(loop_timer_armed(&t.t));
	CU_ASSERT_EQUAL(ord.n, 0);

	/* Moving it near makes it fire, once. */
	CU_ASSERT_EQUAL(loop_timer_set(loop, &t.t, 0), 0);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(ord.n, 1);
	CU_ASSERT_FALSE(loop_timer_armed(&t.t));
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);

	/* And far again: an armed timer moved away does not fire. */
	CU_ASSERT_EQUAL(loop_timer_set(loop, &t.t, 0), 0);
	CU_ASSERT_EQUAL(loop_timer_set(loop, &t.t, FAR_MS), 0);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL(ord.n, 1);
	loop_timer_cancel(loop, &t.t);
	loop_free(loop);
}

static void
test_timer_cancel(void)
{
	struct loop	*loop;
	struct order	 ord = { { 0 }, 0 };
	struct otimer	 t[3];
	int		 i;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	for (i = 0; i < 3; i++) {
		t[i].order = &ord;
		t[i].id = i;
		loop_timer_init(&t[i].t, order_cb, &t[i]);
		CU_ASSERT_EQUAL(loop_timer_set(loop, &t[i].t,
		    (uint64_t)i), 0);
	}
	loop_timer_cancel(loop, &t[0].t);	/* the heap's root */
	CU_ASSERT_FALSE(loop_timer_armed(&t[0].t));
	loop_timer_cancel(loop, &t[0].t);	/* disarmed: no-op */
	CU_ASSERT_TRUE(loop_timer_armed(&t[1].t));

	sleep_ms(10);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 2);
	CU_ASSERT_EQUAL_FATAL(ord.n, 2);
	CU_ASSERT_EQUAL(ord.fired[0], 1);
	CU_ASSERT_EQUAL(ord.fired[1], 2);

	/* Cancel the last slot, then one in the middle. */
	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(loop_timer_set(loop, &t[i].t, 0), 0);
	loop_timer_cancel(loop, &t[2].t);
	loop_timer_cancel(loop, &t[1].t);
	ord.n = 0;
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(ord.n, 1);
	CU_ASSERT_EQUAL(ord.fired[0], 0);
	loop_free(loop);
}

struct rearm {
	struct loop_timer	 t;
	int			 calls;
	int			 limit;
};

static void
rearm_cb(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct rearm	*r = arg;

	r->calls++;
	if (r->calls < r->limit)
		CU_ASSERT_EQUAL(loop_timer_set(loop, t, 0), 0);
}

static void
test_timer_rearm_self(void)
{
	struct loop	*loop;
	struct rearm	 r = { .limit = 3 };

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	loop_timer_init(&r.t, rearm_cb, &r);
	CU_ASSERT_EQUAL(loop_timer_set(loop, &r.t, 0), 0);

	/* Re-armed with 0 from its callback: next round, not this one. */
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(r.calls, 1);
	CU_ASSERT_TRUE(loop_timer_armed(&r.t));
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(r.calls, 2);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(r.calls, 3);
	CU_ASSERT_FALSE(loop_timer_armed(&r.t));
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL(r.calls, 3);
	loop_free(loop);
}

/* Heap-allocated owners, freed from inside timer callbacks. */
struct conn {
	struct loop_timer	 t;
	struct conn		*peer;
	int			*fired;
	int			 id;
};

static void
conn_cb(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct conn	*c = arg;

	(void)t;
	c->fired[c->id]++;
	if (c->peer != NULL) {
		loop_timer_cancel(loop, &c->peer->t);
		free(c->peer);
	}
	/* Disarmed already; cancelling is harmless, then it may go. */
	loop_timer_cancel(loop, &c->t);
	free(c);
}

static void
test_timer_free_from_callback(void)
{
	struct loop	*loop;
	struct conn	*a, *b, *c;
	int		 fired[3] = { 0, 0, 0 };

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	a = calloc(1, sizeof(*a));
	b = calloc(1, sizeof(*b));
	c = calloc(1, sizeof(*c));
	CU_ASSERT_FATAL(a != NULL && b != NULL && c != NULL);
	a->id = 0;
	b->id = 1;
	c->id = 2;
	a->fired = b->fired = c->fired = fired;
	a->peer = b;		/* a kills b, due in the same round */
	loop_timer_init(&a->t, conn_cb, a);
	loop_timer_init(&b->t, conn_cb, b);
	loop_timer_init(&c->t, conn_cb, c);
	CU_ASSERT_EQUAL(loop_timer_set(loop, &a->t, 0), 0);
	CU_ASSERT_EQUAL(loop_timer_set(loop, &b->t, 1), 0);
	CU_ASSERT_EQUAL(loop_timer_set(loop, &c->t, 2), 0);

	sleep_ms(10);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 2);
	CU_ASSERT_EQUAL(fired[0], 1);
	CU_ASSERT_EQUAL(fired[1], 0);
	CU_ASSERT_EQUAL(fired[2], 1);
	loop_free(loop);
}

/*
 * Timers moved later keep a stale place in the heap until they reach its
 * top.  Each stamp knows its real deadline and checks that it never fires
 * before it.
 */
struct stamp {
	struct loop_timer	 t;
	struct order		*order;		/* or NULL */
	uint64_t		 due;
	uint64_t		 fired_at;
	int			 id;
	int			 calls;
};

static void
stamp_cb(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct stamp	*s = arg;

	CU_ASSERT_PTR_EQUAL(t, &s->t);
	CU_ASSERT_FALSE(loop_timer_armed(t));
	s->calls++;
	s->fired_at = loop_now_ms(loop);
	CU_ASSERT(s->fired_at >= s->due);
	if (s->order != NULL && s->order->n < 16)
		s->order->fired[s->order->n++] = s->id;
}

static void
stamp_init(struct stamp *s, struct order *order, int id)
{
	memset(s, 0, sizeof(*s));
	s->order = order;
	s->id = id;
	loop_timer_init(&s->t, stamp_cb, s);
}

static void
stamp_set(struct loop *loop, struct stamp *s, uint64_t after_ms)
{
	CU_ASSERT_EQUAL(loop_timer_set(loop, &s->t, after_ms), 0);
	CU_ASSERT_TRUE(loop_timer_armed(&s->t));
	s->due = loop_now_ms(loop) + after_ms;
}

/* Wait with no bound but the timers until s has fired. */
static void
stamp_wait(struct loop *loop, struct stamp *s)
{
	int	 rounds;

	for (rounds = 0; s->calls == 0 && rounds < 1000; rounds++)
		CU_ASSERT_FATAL(loop_once(loop, -1) >= 0);
	CU_ASSERT_EQUAL(s->calls, 1);
}

static void
test_timer_later_many(void)
{
	struct loop	*loop;
	struct stamp	 s;
	int		 i;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	stamp_init(&s, NULL, 0);

	/*
	 * Its first deadline passes while it is far away, over and over,
	 * as a keep-alive connection's timer does.
	 */
	for (i = 0; i < 3; i++) {
		stamp_set(loop, &s, 5);
		stamp_set(loop, &s, FAR_MS);
		sleep_ms(10);
		CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
		CU_ASSERT_TRUE(loop_timer_armed(&s.t));
	}

	/* Then many small moves later: only the last one counts. */
	stamp_set(loop, &s, 10);
	for (i = 1; i <= 100; i++)
		stamp_set(loop, &s, 10 + (uint64_t)i / 2);
	stamp_wait(loop, &s);
	CU_ASSERT(s.fired_at >= s.due);
	CU_ASSERT_FALSE(loop_timer_armed(&s.t));
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL(s.calls, 1);
	loop_free(loop);
}

static void
test_timer_later_then_earlier(void)
{
	struct loop	*loop;
	struct order	 ord = { { 0 }, 0 };
	struct stamp	 s[5];
	int		 i, rounds;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	for (i = 0; i < 5; i++)
		stamp_init(&s[i], &ord, i);

	/* Later, then earlier than its place in the heap: 50, before 70. */
	stamp_set(loop, &s[0], 100);
	stamp_set(loop, &s[0], 500);
	stamp_set(loop, &s[0], 50);
	/* Later, then less late, still after its place: 200, not 500. */
	stamp_set(loop, &s[1], 100);
	stamp_set(loop, &s[1], 500);
	stamp_set(loop, &s[1], 200);
	stamp_set(loop, &s[2], 30);
	stamp_set(loop, &s[3], 300);
	stamp_set(loop, &s[4], 70);

	for (rounds = 0; ord.n < 5 && rounds < 1000; rounds++)
		CU_ASSERT_FATAL(loop_once(loop, -1) >= 0);
	CU_ASSERT_EQUAL_FATAL(ord.n, 5);
	CU_ASSERT_EQUAL(ord.fired[0], 2);
	CU_ASSERT_EQUAL(ord.fired[1], 0);
	CU_ASSERT_EQUAL(ord.fired[2], 4);
	CU_ASSERT_EQUAL(ord.fired[3], 1);
	CU_ASSERT_EQUAL(ord.fired[4], 3);
	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(s[i].calls, 1);
	loop_free(loop);
}

static void
test_timer_later_order(void)
{
	struct loop	*loop;
	struct order	 ord = { { 0 }, 0 };
	struct stamp	 s[6];
	int		 i;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	for (i = 0; i < 6; i++)
		stamp_init(&s[i], &ord, i);

	/* Heap order 0, 1, 2, 3, then 4, 5 tied. */
	for (i = 0; i < 4; i++)
		stamp_set(loop, &s[i], 1 + (uint64_t)i);
	stamp_set(loop, &s[4], 15);
	stamp_set(loop, &s[5], 15);
	/* All moved later or to the same deadline, never earlier. */
	stamp_set(loop, &s[0], 20);
	stamp_set(loop, &s[3], 10);
	stamp_set(loop, &s[1], 10);
	stamp_set(loop, &s[2], 20);
	stamp_set(loop, &s[4], 15);	/* now armed after 5 */

	/* All due when the loop looks: one round, in real order. */
	sleep_ms(50);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 6);
	CU_ASSERT_EQUAL_FATAL(ord.n, 6);
	CU_ASSERT_EQUAL(ord.fired[0], 3);
	CU_ASSERT_EQUAL(ord.fired[1], 1);
	CU_ASSERT_EQUAL(ord.fired[2], 5);
	CU_ASSERT_EQUAL(ord.fired[3], 4);
	CU_ASSERT_EQUAL(ord.fired[4], 0);
	CU_ASSERT_EQUAL(ord.fired[5], 2);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	loop_free(loop);
}

/* Fires, and moves its victim later by 0 from the current time. */
struct mover {
	struct stamp	 s;
	struct stamp	*victim;
};

static void
mover_cb(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct mover	*m = arg;

	stamp_cb(loop, t, &m->s);
	stamp_set(loop, m->victim, 0);
}

static void
test_timer_later_in_round(void)
{
	struct loop	*loop;
	struct mover	 m;
	struct stamp	 v;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	stamp_init(&m.s, NULL, 0);
	loop_timer_init(&m.s.t, mover_cb, &m);
	stamp_init(&v, NULL, 1);
	m.victim = &v;
	stamp_set(loop, &m.s, 0);
	stamp_set(loop, &v, 0);

	/*
	 * v was due when the round began, but the mover re-armed it during
	 * the round, which is not a move earlier: next round, not this one.
	 */
	sleep_ms(5);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(m.s.calls, 1);
	CU_ASSERT_EQUAL(v.calls, 0);
	CU_ASSERT_TRUE(loop_timer_armed(&v.t));
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(v.calls, 1);
	CU_ASSERT_EQUAL(m.s.calls, 1);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	loop_free(loop);
}

static void
test_timer_later_wait(void)
{
	struct loop	*loop;
	struct stamp	 moved, real;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	stamp_init(&moved, NULL, 0);
	stamp_init(&real, NULL, 1);

	/*
	 * Alone, and at the top of the heap with its old deadline: one wait
	 * that returns having run nothing would mean it woke up for that.
	 */
	stamp_set(loop, &moved, 10);
	stamp_set(loop, &moved, 40);
	CU_ASSERT_EQUAL(loop_once(loop, -1), 1);
	CU_ASSERT_EQUAL(moved.calls, 1);

	/* A real one due in between is what ends the wait. */
	stamp_set(loop, &moved, 10);
	stamp_set(loop, &moved, FAR_MS);
	stamp_set(loop, &real, 30);
	CU_ASSERT_EQUAL(loop_once(loop, -1), 1);
	CU_ASSERT_EQUAL(real.calls, 1);
	CU_ASSERT_EQUAL(moved.calls, 1);
	CU_ASSERT_TRUE(loop_timer_armed(&moved.t));

	/* Moved later twice, less late the second time: it comes first. */
	stamp_set(loop, &moved, 10);
	stamp_set(loop, &moved, 60);
	stamp_set(loop, &real, 30);
	stamp_set(loop, &moved, 20);
	CU_ASSERT(loop_once(loop, -1) >= 1);
	CU_ASSERT_EQUAL(moved.calls, 2);
	stamp_wait(loop, &real);
	loop_free(loop);
}

static void
test_timer_later_cancel(void)
{
	struct loop	*loop;
	struct order	 ord = { { 0 }, 0 };
	struct stamp	*gone[3], kept;
	int		 i;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	stamp_init(&kept, &ord, 9);
	for (i = 0; i < 3; i++) {
		gone[i] = malloc(sizeof(*gone[i]));
		CU_ASSERT_PTR_NOT_NULL_FATAL(gone[i]);
		stamp_init(gone[i], &ord, i);
		stamp_set(loop, gone[i], (uint64_t)i);
	}
	stamp_set(loop, &kept, 3);
	/* Moved later, each from its place: top, middle and leaf. */
	for (i = 0; i < 3; i++)
		stamp_set(loop, gone[i], 20 + (uint64_t)i);

	/* Freed at once: the loop must not point at them any more. */
	for (i = 0; i < 3; i++) {
		loop_timer_cancel(loop, &gone[i]->t);
		CU_ASSERT_FALSE(loop_timer_armed(&gone[i]->t));
		free(gone[i]);
	}
	stamp_wait(loop, &kept);
	sleep_ms(30);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL_FATAL(ord.n, 1);
	CU_ASSERT_EQUAL(ord.fired[0], 9);

	/* Cancelled after its old place in the heap has come due. */
	stamp_set(loop, &kept, 5);
	stamp_set(loop, &kept, FAR_MS);
	sleep_ms(10);
	loop_timer_cancel(loop, &kept.t);
	CU_ASSERT_FALSE(loop_timer_armed(&kept.t));
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL(kept.calls, 1);
	loop_free(loop);
}

/* A stopped timer: disarmed at once, in the heap until its key is due. */
static void
test_timer_stop(void)
{
	struct loop	*loop;
	struct order	 ord = { { 0 }, 0 };
	struct stamp	 a, b, *gone;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	stamp_init(&a, &ord, 1);
	stamp_init(&b, &ord, 2);

	/* Stopped before its deadline: never fires, and reads disarmed. */
	stamp_set(loop, &a, 5);
	stamp_set(loop, &b, 20);
	loop_timer_stop(loop, &a.t);
	CU_ASSERT_FALSE(loop_timer_armed(&a.t));
	loop_timer_stop(loop, &a.t);	/* again: no-op */
	stamp_wait(loop, &b);
	CU_ASSERT_EQUAL(a.calls, 0);
	CU_ASSERT_EQUAL_FATAL(ord.n, 1);
	CU_ASSERT_EQUAL(ord.fired[0], 2);
	/* Its key came due: it has left the heap, the loop has no timer. */
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);

	/* Stopped, then armed again later than before: fires once, then. */
	stamp_set(loop, &a, 5);
	loop_timer_stop(loop, &a.t);
	stamp_set(loop, &a, 30);
	sleep_ms(10);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	CU_ASSERT_EQUAL(a.calls, 0);
	stamp_wait(loop, &a);

	/* Stopped, then armed again earlier: fires at the earlier time. */
	a.calls = 0;
	stamp_set(loop, &a, FAR_MS);
	loop_timer_stop(loop, &a.t);
	stamp_set(loop, &a, 5);
	stamp_wait(loop, &a);

	/* Stopped then cancelled: gone from the heap, so it may be freed. */
	gone = malloc(sizeof(*gone));
	CU_ASSERT_PTR_NOT_NULL_FATAL(gone);
	stamp_init(gone, &ord, 3);
	stamp_set(loop, gone, 5);
	b.calls = 0;
	stamp_set(loop, &b, 15);
	loop_timer_stop(loop, &gone->t);
	loop_timer_cancel(loop, &gone->t);
	CU_ASSERT_FALSE(loop_timer_armed(&gone->t));
	free(gone);
	stamp_wait(loop, &b);

	/* A stopped timer that never comes back does not hold up a wait. */
	stamp_set(loop, &a, 5);
	loop_timer_stop(loop, &a.t);
	CU_ASSERT_EQUAL(loop_once(loop, 30), 0);
	CU_ASSERT_EQUAL(a.calls, 1);
	loop_free(loop);
}

#define MANY	1000

struct many {
	struct loop_timer	 t;
	uint64_t		 after;
	uint64_t		 due;		/* never fires before */
	int			 armed_at;	/* arming order */
	int			 fired;
};

static struct many	*many_log[MANY];
static int		 many_nlog;

static void
many_cb(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct many	*m = arg;

	(void)t;
	CU_ASSERT(loop_now_ms(loop) >= m->due);
	m->fired++;
	if (many_nlog < MANY)
		many_log[many_nlog++] = m;
}

static void
test_timer_many(void)
{
	struct loop	*loop;
	struct many	*m;
	int		 i, j, expect, rounds, order = 0;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	m = calloc(MANY, sizeof(*m));
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	many_nlog = 0;
	srandom(12345);

	/*
	 * The cached clock does not move while they are armed, so the
	 * deadline order is (after, arming order).
	 */
	for (i = 0; i < MANY; i++) {
		loop_timer_init(&m[i].t, many_cb, &m[i]);
		m[i].after = (uint64_t)(random() % 60);
		m[i].armed_at = order++;
		m[i].due = loop_now_ms(loop) + m[i].after;
		CU_ASSERT_EQUAL(loop_timer_set(loop, &m[i].t, m[i].after), 0);
	}
	/* Move some, cancel some, all over the heap. */
	for (i = 0; i < 300; i++) {
		j = (int)(random() % MANY);
		m[j].after = (uint64_t)(random() % 60);
		m[j].armed_at = order++;
		m[j].due = loop_now_ms(loop) + m[j].after;
		CU_ASSERT_EQUAL(loop_timer_set(loop, &m[j].t, m[j].after), 0);
	}
	for (i = 0; i < 150; i++) {
		j = (int)(random() % MANY);
		loop_timer_cancel(loop, &m[j].t);
	}
	for (i = 0, expect = 0; i < MANY; i++)
		if (loop_timer_armed(&m[i].t))
			expect++;
	CU_ASSERT(expect > 0 && expect < MANY);

	for (rounds = 0; many_nlog < expect && rounds < 100000; rounds++)
		CU_ASSERT_FATAL(loop_once(loop, -1) >= 0);
	CU_ASSERT_EQUAL_FATAL(many_nlog, expect);

	for (i = 1; i < many_nlog; i++) {
		struct many	*p = many_log[i - 1], *q = many_log[i];

		CU_ASSERT(p->after < q->after ||
		    (p->after == q->after && p->armed_at < q->armed_at));
	}
	for (i = 0; i < MANY; i++) {
		CU_ASSERT(m[i].fired <= 1);
		CU_ASSERT_FALSE(loop_timer_armed(&m[i].t));
	}
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	free(m);
	loop_free(loop);
}

static void
test_now_cached(void)
{
	struct loop	*loop;
	uint64_t	 t0, t1;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	t0 = loop_now_ms(loop);
	sleep_ms(20);
	/* Only a wake-up or loop_update_time() reads the clock. */
	CU_ASSERT_EQUAL(loop_now_ms(loop), t0);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 0);
	t1 = loop_now_ms(loop);
	CU_ASSERT(t1 >= t0 + 20);
	sleep_ms(20);
	loop_update_time(loop);
	CU_ASSERT(loop_now_ms(loop) >= t1 + 20);
	loop_free(loop);
}

/*
 * Running and stopping.
 */

struct stopper {
	struct loop_timer	 t;
	int			 calls;
	bool			 safety;	/* the safety timer fired */
};

static void
stop_timer_cb(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct stopper	*s = arg;

	(void)t;
	s->calls++;
	loop_stop(loop);
}

static void
safety_cb(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct stopper	*s = arg;

	(void)t;
	s->safety = true;
	loop_stop(loop);
}

static void
stop_io_cb(struct loop *loop, int fd, unsigned revents, void *arg)
{
	struct io_rec	*r = arg;

	io_count(loop, fd, revents, arg);
	if (r->calls == 3)
		loop_stop(loop);
}

static void
test_run_stop(void)
{
	struct loop		*loop;
	struct stopper		 s = { .calls = 0 };
	struct stopper		 safe = { .calls = 0 };
	struct io_rec		 r = { 0 };
	int			 sv[2];

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	loop_timer_init(&safe.t, safety_cb, &safe);
	CU_ASSERT_EQUAL(loop_timer_set(loop, &safe.t, FAR_MS), 0);

	/* Stopped from a timer. */
	loop_timer_init(&s.t, stop_timer_cb, &s);
	CU_ASSERT_EQUAL(loop_timer_set(loop, &s.t, 5), 0);
	CU_ASSERT_EQUAL(loop_run(loop), 0);
	CU_ASSERT_EQUAL(s.calls, 1);

	/* The request was consumed: it runs again, stopped from I/O. */
	make_socketpair(sv);
	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_WRITE, stop_io_cb, &r), 0);
	CU_ASSERT_EQUAL(loop_run(loop), 0);
	CU_ASSERT_EQUAL(r.calls, 3);
	CU_ASSERT_EQUAL(loop_del(loop, sv[0]), 0);

	/* A stop requested before running returns at once. */
	loop_stop(loop);
	CU_ASSERT_EQUAL(loop_run(loop), 0);

	CU_ASSERT_FALSE(safe.safety);
	loop_timer_cancel(loop, &safe.t);
	close(sv[0]);
	close(sv[1]);
	loop_free(loop);
}

struct hook {
	int	 calls;
	int	 stop_at;
};

static void
hook_cb(struct loop *loop, void *arg)
{
	struct hook	*h = arg;

	if (++h->calls == h->stop_at)
		loop_stop(loop);
}

static void
test_before_wait(void)
{
	struct loop	*loop;
	struct hook	 h = { 0, 3 };
	struct stopper	 safe = { .calls = 0 };
	struct io_rec	 r = { 0 };
	int		 sv[2];

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	loop_timer_init(&safe.t, safety_cb, &safe);
	CU_ASSERT_EQUAL(loop_timer_set(loop, &safe.t, FAR_MS), 0);
	make_socketpair(sv);
	/* Always writable, so each iteration wakes at once. */
	CU_ASSERT_EQUAL(loop_add(loop, sv[0], LOOP_WRITE, io_count, &r), 0);
	loop_set_before_wait(loop, hook_cb, &h);

	/* Stopped by the hook: the third iteration does not wait. */
	CU_ASSERT_EQUAL(loop_run(loop), 0);
	CU_ASSERT_EQUAL(h.calls, 3);
	CU_ASSERT_EQUAL(r.calls, 2);

	/* loop_once() alone calls it too; NULL removes it. */
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(h.calls, 4);
	loop_set_before_wait(loop, NULL, NULL);
	CU_ASSERT_EQUAL(loop_once(loop, 0), 1);
	CU_ASSERT_EQUAL(h.calls, 4);

	CU_ASSERT_FALSE(safe.safety);
	loop_timer_cancel(loop, &safe.t);
	CU_ASSERT_EQUAL(loop_del(loop, sv[0]), 0);
	close(sv[0]);
	close(sv[1]);
	loop_free(loop);
}

static volatile sig_atomic_t	 got_usr1;

static void
on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void
test_eintr(void)
{
	struct loop		*loop;
	struct sigaction	 sa, old;
	pid_t			 pid;
	int			 status, n;

	loop = loop_new(8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(loop);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	CU_ASSERT_EQUAL_FATAL(sigaction(SIGUSR1, &sa, &old), 0);
	got_usr1 = 0;

	pid = fork();
	CU_ASSERT_FATAL(pid != -1);
	if (pid == 0) {
		sleep_ms(100);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	/* Interrupted (or timed out, if the signal came early): never -1. */
	n = loop_once(loop, 10000);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(got_usr1, 1);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	sigaction(SIGUSR1, &old, NULL);
	loop_free(loop);
}

int
main(void)
{
	static const struct {
		const char	*name;
		CU_TestFunc	 fn;
	} tests[] = {
		{ "new/free", test_new_free },
		{ "epoll fd is close-on-exec", test_cloexec },
		{ "argument and epoll errors", test_errors },
		{ "socketpair add/mod/del", test_socketpair_add_mod_del },
		{ "socketpair EOF", test_socketpair_eof },
		{ "socketpair half-close", test_socketpair_half_close },
		{ "forget, then close", test_forget_then_close },
		{ "pipe read/write/EOF", test_pipe },
		{ "pipe with reader gone", test_pipe_broken },
		{ "edge-triggered", test_edge },
		{ "delete other fd in batch", test_delete_other_in_batch },
		{ "delete own fd", test_delete_self },
		{ "mod other fd in batch", test_mod_other_in_batch },
		{ "timers same tick in order", test_timer_order_same_tick },
		{ "timers across waits in order",
		    test_timer_order_across_waits },
		{ "timer not yet, wait timeout",
		    test_timer_not_yet_and_timeout },
		{ "timer cancel", test_timer_cancel },
		{ "timer re-arms itself", test_timer_rearm_self },
		{ "timer frees owners", test_timer_free_from_callback },
		{ "timer moved later many times", test_timer_later_many },
		{ "timer moved later, then earlier",
		    test_timer_later_then_earlier },
		{ "timers moved later in order", test_timer_later_order },
		{ "timer moved later during its round",
		    test_timer_later_in_round },
		{ "wait ends for the real deadline", test_timer_later_wait },
		{ "cancel a timer moved later", test_timer_later_cancel },
		{ "stop a timer", test_timer_stop },
		{ "1000 random timers", test_timer_many },
		{ "cached time", test_now_cached },
		{ "loop_run and loop_stop", test_run_stop },
		{ "before-wait hook", test_before_wait },
		{ "EINTR is not an error", test_eintr },
	};
	CU_pSuite	 suite;
	size_t		 i;

	/* Broken pipes are tested through EPIPE. */
	signal(SIGPIPE, SIG_IGN);
	/* A hang must fail the run, not stall it. */
	alarm(120);

	/* 99: automake's "hard error", not a test failure. */
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	if ((suite = CU_add_suite("loop", NULL, NULL)) == NULL)
		goto fail;
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)
			goto fail;
	return tap_run_registry();
fail:
	fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
	CU_cleanup_registry();
	return 99;
}
