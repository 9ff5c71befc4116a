/*
 * loop.c: the worker's event loop over epoll(7).
 *
 * Descriptor records live in an array indexed by fd.  The kernel does not
 * get a pointer to a record: epoll_data carries the fd and a generation
 * number, and every collected event is checked against the record as it is
 * now.  An earlier callback in the same batch may have deleted that fd,
 * closed it and registered a new file under the same number, or grown
 * (moved) the array; with a pointer in epoll_data each of these would call
 * into a dead or foreign record.
 *
 * Timers form a binary min-heap of pointers into the callers' structures,
 * each timer knowing its heap slot so that cancelling is O(log n).
 *
 * Every request moves its connection's and upstream's timers later (header
 * timeout to keep-alive, read timeout re-armed), so moving later must not
 * cost a heap walk.  A timer's heap key (deadline, seq) is therefore only a
 * lower bound of its real (due, due_seq): moving later records the real
 * one and leaves the heap alone.  timer_first() settles the root before
 * anything looks at it, so timers still fire and the wait still ends
 * exactly as if every move had been applied to the heap.  A stopped timer
 * (loop_timer_stop()) is the same idea for disarming: it leaves the heap
 * when its key reaches the root, unless it was armed again meanwhile.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/epoll.h>

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_INTEREST	(LOOP_READ | LOOP_WRITE | LOOP_EDGE)
#define LOOP_FDS_MIN	64
#define LOOP_HEAP_MIN	64

struct loop_io {
	loop_io_cb	*cb;		/* NULL: fd not registered */
	void		*arg;
	uint32_t	 gen;		/* in epoll_data of its events */
	unsigned	 events;	/* current interest */
};

struct loop {
	int			 epfd;
	int			 max_events;
	struct epoll_event	*events;

	struct loop_io		*io;
	size_t			 nio;
	uint32_t		 io_gen;

	struct loop_timer	**heap;
	size_t			 nheap;
	size_t			 heap_cap;
	uint64_t		 timer_seq;

	uint64_t		 now;
	loop_hook_cb		*before_wait;
	void			*before_wait_arg;
	bool			 stop;
};

static uint32_t	 loop_to_epoll(unsigned);
static unsigned	 loop_from_epoll(uint32_t, unsigned);
static struct loop_io *loop_io_find(struct loop *, int);
static int	 loop_io_reserve(struct loop *, int);
static int	 loop_dispatch(struct loop *, int);
static int	 loop_timeout(struct loop *, int);
static int	 loop_run_timers(struct loop *);
static bool	 timer_before(const struct loop_timer *,
		    const struct loop_timer *);
static struct loop_timer *timer_first(struct loop *);
static void	 heap_place(struct loop *, struct loop_timer *, size_t);
static void	 heap_up(struct loop *, size_t);
static void	 heap_down(struct loop *, size_t);
static void	 heap_fix(struct loop *, size_t);
static void	 heap_remove(struct loop *, struct loop_timer *);

struct loop *
loop_new(int max_events)
{
	struct loop	*loop;

	/* epoll_wait(2) refuses more than this. */
	if (max_events < 1 ||
	    (size_t)max_events > INT_MAX / sizeof(struct epoll_event)) {
		errno = EINVAL;
		return NULL;
	}
	if ((loop = calloc(1, sizeof(*loop))) == NULL)
		return NULL;
	loop->max_events = max_events;
	if ((loop->events = calloc((size_t)max_events,
	    sizeof(*loop->events))) == NULL) {
		free(loop);
		return NULL;
	}
	if ((loop->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		int	 saved = errno;

		free(loop->events);
		free(loop);
		errno = saved;
		return NULL;
	}
	loop_update_time(loop);
	return loop;
}

void
loop_free(struct loop *loop)
{
	int	 saved = errno;

	if (loop == NULL)
		return;
	close(loop->epfd);
	free(loop->events);
	free(loop->io);
	free(loop->heap);
	free(loop);
	errno = saved;
}

static uint32_t
loop_to_epoll(unsigned events)
{
	uint32_t	 ep = 0;

	/* RDHUP lets a reader see a half-close even with no data after it. */
	if (events & LOOP_READ)
		ep |= EPOLLIN | EPOLLRDHUP;
	if (events & LOOP_WRITE)
		ep |= EPOLLOUT;
	if (events & LOOP_EDGE)
		ep |= EPOLLET;
	return ep;
}

static unsigned
loop_from_epoll(uint32_t ep, unsigned interest)
{
	unsigned	 rev = 0;

	if (ep & (EPOLLIN | EPOLLRDHUP))
		rev |= LOOP_READ;
	if (ep & (EPOLLRDHUP | EPOLLHUP))
		rev |= LOOP_HUP;
	if (ep & EPOLLOUT)
		rev |= LOOP_WRITE;
	/*
	 * The kernel reports ERR and HUP whatever the interest.  Hand them
	 * over as the directions the caller is waiting on, so that its
	 * read or write runs and returns 0 or the errno: that is where the
	 * real cause is, and a reader must get to see end of file.
	 */
	if (ep & (EPOLLERR | EPOLLHUP))
		rev |= LOOP_ERROR | (interest & (LOOP_READ | LOOP_WRITE));
	/*
	 * A loop_mod() earlier in the batch may have dropped a direction
	 * this event was collected for.
	 */
	return rev & (interest | LOOP_ERROR | LOOP_HUP);
}

static struct loop_io *
loop_io_find(struct loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->nio || loop->io[fd].cb == NULL)
		return NULL;
	return &loop->io[fd];
}

static int
loop_io_reserve(struct loop *loop, int fd)
{
	struct loop_io	*io;
	size_t		 want = (size_t)fd + 1, n;

	if (want <= loop->nio)
		return 0;
	n = loop->nio > 0 ? loop->nio : LOOP_FDS_MIN;
	while (n < want)
		n *= 2;
	if (n > SIZE_MAX / sizeof(*io)) {
		errno = ENOMEM;
		return -1;
	}
	if ((io = realloc(loop->io, n * sizeof(*io))) == NULL)
		return -1;
	memset(io + loop->nio, 0, (n - loop->nio) * sizeof(*io));
	loop->io = io;
	loop->nio = n;
	return 0;
}

int
loop_add(struct loop *loop, int fd, unsigned events, loop_io_cb *cb,
    void *arg)
{
	struct epoll_event	 ev;
	uint32_t		 gen;

	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if ((events & ~LOOP_INTEREST) != 0 || cb == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (loop_io_find(loop, fd) != NULL) {
		errno = EEXIST;
		return -1;
	}
	if (loop_io_reserve(loop, fd) == -1)
		return -1;

	/*
	 * A wrap of the counter could only matter if an event survived 2^32
	 * registrations; events never outlive one batch.
	 */
	gen = ++loop->io_gen;
	memset(&ev, 0, sizeof(ev));
	ev.events = loop_to_epoll(events);
	ev.data.u64 = (uint64_t)gen << 32 | (uint32_t)fd;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -1;
	loop->io[fd].cb = cb;
	loop->io[fd].arg = arg;
	loop->io[fd].gen = gen;
	loop->io[fd].events = events;
	return 0;
}

int
loop_mod(struct loop *loop, int fd, unsigned events)
{
	struct epoll_event	 ev;
	struct loop_io		*io;

	if ((events & ~LOOP_INTEREST) != 0) {
		errno = EINVAL;
		return -1;
	}
	if ((io = loop_io_find(loop, fd)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = loop_to_epoll(events);
	ev.data.u64 = (uint64_t)io->gen << 32 | (uint32_t)fd;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) == -1)
		return -1;
	io->events = events;
	return 0;
}

int
loop_del(struct loop *loop, int fd)
{
	struct epoll_event	 ev;
	struct loop_io		*io;
	int			 rc;

	if ((io = loop_io_find(loop, fd)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	/* Kernels before 2.6.9 want a non-NULL event even for DEL. */
	memset(&ev, 0, sizeof(ev));
	rc = epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, &ev);
	/*
	 * Forget the record whatever epoll says: pending events for fd are
	 * dropped from now on because cb is NULL, and a later loop_add()
	 * gets a new generation.
	 */
	memset(io, 0, sizeof(*io));
	if (rc == -1 && errno != EBADF && errno != ENOENT)
		return -1;
	return 0;
}

int
loop_forget(struct loop *loop, int fd)
{
	struct loop_io	*io;

	if ((io = loop_io_find(loop, fd)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	/* close() takes fd out of the epoll set: spare the syscall. */
	memset(io, 0, sizeof(*io));
	return 0;
}

void
loop_timer_init(struct loop_timer *timer, loop_timer_cb *cb, void *arg)
{
	timer->deadline = 0;
	timer->seq = 0;
	timer->due = 0;
	timer->due_seq = 0;
	timer->index = LOOP_TIMER_IDLE;
	timer->cb = cb;
	timer->arg = arg;
	timer->stopped = false;
}

static bool
timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void
heap_place(struct loop *loop, struct loop_timer *t, size_t i)
{
	loop->heap[i] = t;
	t->index = i;
}

static void
heap_up(struct loop *loop, size_t i)
{
	struct loop_timer	*t = loop->heap[i];
	size_t			 parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!timer_before(t, loop->heap[parent]))
			break;
		heap_place(loop, loop->heap[parent], i);
		i = parent;
	}
	heap_place(loop, t, i);
}

static void
heap_down(struct loop *loop, size_t i)
{
	struct loop_timer	*t = loop->heap[i];
	size_t			 c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= loop->nheap)
			break;
		if (c + 1 < loop->nheap &&
		    timer_before(loop->heap[c + 1], loop->heap[c]))
			c++;
		if (!timer_before(loop->heap[c], t))
			break;
		heap_place(loop, loop->heap[c], i);
		i = c;
	}
	heap_place(loop, t, i);
}

static void
heap_fix(struct loop *loop, size_t i)
{
	if (i > 0 && timer_before(loop->heap[i], loop->heap[(i - 1) / 2]))
		heap_up(loop, i);
	else
		heap_down(loop, i);
}

static void
heap_remove(struct loop *loop, struct loop_timer *t)
{
	struct loop_timer	*last;
	size_t			 i = t->index;

	last = loop->heap[--loop->nheap];
	t->index = LOOP_TIMER_IDLE;
	if (last != t) {
		heap_place(loop, last, i);
		heap_fix(loop, i);
	}
}

/*
 * Every key is at most its timer's real (due, due_seq), so a root whose key
 * is real is the earliest timer.  A root moved later since it was keyed
 * goes down to its real place, and the next root is looked at.
 */
static struct loop_timer *
timer_first(struct loop *loop)
{
	struct loop_timer	*t;

	while (loop->nheap > 0) {
		t = loop->heap[0];
		if (t->stopped) {
			heap_remove(loop, t);
			t->stopped = false;
			continue;
		}
		/* seq is unique to a loop_timer_set() call. */
		if (t->seq == t->due_seq)
			return t;
		t->deadline = t->due;
		t->seq = t->due_seq;
		heap_down(loop, 0);
	}
	return NULL;
}

int
loop_timer_set(struct loop *loop, struct loop_timer *timer,
    uint64_t after_ms)
{
	struct loop_timer	**heap;
	size_t			 cap;
	uint64_t		 due;

	if (timer->index == LOOP_TIMER_IDLE && loop->nheap == loop->heap_cap) {
		cap = loop->heap_cap > 0 ? loop->heap_cap * 2 : LOOP_HEAP_MIN;
		if (cap < loop->heap_cap || cap > SIZE_MAX / sizeof(*heap)) {
			errno = ENOMEM;
			return -1;
		}
		if ((heap = realloc(loop->heap, cap * sizeof(*heap))) == NULL)
			return -1;
		loop->heap = heap;
		loop->heap_cap = cap;
	}

	due = after_ms > UINT64_MAX - loop->now ?
	    UINT64_MAX : loop->now + after_ms;
	timer->stopped = false;
	timer->due = due;
	/* A fresh seq also keeps it out of a round of expiry in progress. */
	timer->due_seq = loop->timer_seq++;
	if (timer->index == LOOP_TIMER_IDLE) {
		timer->deadline = due;
		timer->seq = timer->due_seq;
		loop->heap[loop->nheap] = timer;
		timer->index = loop->nheap++;
		heap_up(loop, timer->index);
		return 0;
	}
	assert(timer->index < loop->nheap && loop->heap[timer->index] == timer);
	/*
	 * due_seq is the largest seq yet, so (due, due_seq) stays above the
	 * key whenever due >= deadline: the key is still a lower bound and
	 * the heap is left as it is.  Only an earlier due lowers the key.
	 */
	if (due < timer->deadline) {
		timer->deadline = due;
		timer->seq = timer->due_seq;
		heap_up(loop, timer->index);
	}
	return 0;
}

void
loop_timer_cancel(struct loop *loop, struct loop_timer *timer)
{
	if (timer->index == LOOP_TIMER_IDLE)
		return;
	assert(timer->index < loop->nheap && loop->heap[timer->index] == timer);
	heap_remove(loop, timer);
	timer->stopped = false;
}

void
loop_timer_stop(struct loop *loop, struct loop_timer *timer)
{
	if (timer->index == LOOP_TIMER_IDLE || timer->stopped)
		return;
	assert(timer->index < loop->nheap && loop->heap[timer->index] == timer);
	/* Its key stays a lower bound of whatever it is armed for next. */
	timer->stopped = true;
	timer->due = UINT64_MAX;
	timer->due_seq = loop->timer_seq++;
}

bool
loop_timer_armed(const struct loop_timer *timer)
{
	return timer->index != LOOP_TIMER_IDLE && !timer->stopped;
}

uint64_t
loop_now_ms(const struct loop *loop)
{
	return loop->now;
}

void
loop_update_time(struct loop *loop)
{
	struct timespec	 ts;
	uint64_t	 ms;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return;
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	/* Deadlines assume time never goes back; be sure of it. */
	if (ms > loop->now)
		loop->now = ms;
}

void
loop_set_before_wait(struct loop *loop, loop_hook_cb *cb, void *arg)
{
	loop->before_wait = cb;
	loop->before_wait_arg = arg;
}

static int
loop_timeout(struct loop *loop, int max_wait_ms)
{
	struct loop_timer	*t;
	uint64_t		 left, deadline;

	/* A stale root key would wake the loop early for nothing. */
	if ((t = timer_first(loop)) == NULL)
		return max_wait_ms < 0 ? -1 : max_wait_ms;
	deadline = t->deadline;
	left = deadline > loop->now ? deadline - loop->now : 0;
	if (left > INT_MAX)
		left = INT_MAX;
	if (max_wait_ms >= 0 && (uint64_t)max_wait_ms < left)
		left = (uint64_t)max_wait_ms;
	return (int)left;
}

static int
loop_dispatch(struct loop *loop, int n)
{
	struct loop_io	*io;
	uint64_t	 data;
	unsigned	 rev;
	int		 i, fd, handled = 0;

	for (i = 0; i < n; i++) {
		data = loop->events[i].data.u64;
		fd = (int)(uint32_t)data;
		/*
		 * Look the record up afresh for every event: callbacks run
		 * so far may have deleted or replaced it, or moved the
		 * array.
		 */
		if ((io = loop_io_find(loop, fd)) == NULL ||
		    io->gen != (uint32_t)(data >> 32))
			continue;
		if ((rev = loop_from_epoll(loop->events[i].events,
		    io->events)) == 0)
			continue;
		/* io may be gone once the callback returns: not used again. */
		io->cb(loop, fd, rev, io->arg);
		handled++;
	}
	return handled;
}

static int
loop_run_timers(struct loop *loop)
{
	struct loop_timer	*t;
	uint64_t		 now = loop->now, seq_end = loop->timer_seq;
	int			 fired = 0;

	/*
	 * Timers armed or moved during this round have seq >= seq_end and a
	 * deadline of at least now, so they sort after every timer that was
	 * already due: stopping at the first one cannot skip an older due
	 * timer, and a timer re-arming itself with 0 cannot keep this loop
	 * spinning.  timer_first() makes the root's key real, so a timer
	 * whose old key was due but that was moved later is not fired.
	 */
	while ((t = timer_first(loop)) != NULL) {
		if (t->deadline > now || t->seq >= seq_end)
			break;
		heap_remove(loop, t);
		/* t may be freed by its callback: not used again. */
		t->cb(loop, t, t->arg);
		if (fired < INT_MAX)
			fired++;
	}
	return fired;
}

int
loop_once(struct loop *loop, int max_wait_ms)
{
	int	 n, saved, io, timers;

	if (loop->before_wait != NULL)
		loop->before_wait(loop, loop->before_wait_arg);
	/* The hook may have seen a signal flag; do not go to sleep then. */
	if (loop->stop)
		return 0;

	n = epoll_wait(loop->epfd, loop->events, loop->max_events,
	    loop_timeout(loop, max_wait_ms));
	saved = errno;
	loop_update_time(loop);
	if (n == -1) {
		if (saved != EINTR) {
			errno = saved;
			return -1;
		}
		n = 0;
	}
	io = loop_dispatch(loop, n);
	timers = loop_run_timers(loop);
	return io > INT_MAX - timers ? INT_MAX : io + timers;
}

int
loop_run(struct loop *loop)
{
	while (!loop->stop) {
		if (loop_once(loop, -1) == -1)
			return -1;
	}
	loop->stop = false;
	return 0;
}

void
loop_stop(struct loop *loop)
{
	loop->stop = true;
}
