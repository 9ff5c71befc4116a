/*
 * loop.h: the worker's event loop.
 *
 * One loop per worker process, created after fork(2), driven by one thread.
 * It multiplexes file descriptors over epoll(7) and runs timers kept in a
 * binary min-heap.  Nothing here is thread-safe and nothing is global: two
 * loops in one process are independent.
 *
 * Memory: the loop owns only its own state (the epoll descriptor, the
 * per-fd records, the timer heap array).  It never owns, closes or frees
 * the caller's file descriptors, callback arguments or timers; timers live
 * inside the caller's structures and the loop only points at them while
 * they are armed.
 *
 * Errors: functions that can fail return 0 or a pointer on success and -1
 * or NULL with errno set on failure, leaving the loop as it was before the
 * call.  The errno values listed for each function are the ones it sets
 * itself; others come from the system call named.
 *
 * Re-entrancy: every function except loop_free() may be called from inside
 * any callback of the same loop, including on the descriptor or timer whose
 * callback is running.
 */
#ifndef SHUNT_LOOP_H
#define SHUNT_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct loop_timer;

/**
 * @name Event bits
 *
 * LOOP_READ, LOOP_WRITE and LOOP_EDGE make up the interest mask given to
 * loop_add() and loop_mod().  LOOP_READ, LOOP_WRITE and LOOP_ERROR make up
 * the revents mask given to an I/O callback.
 * @{
 */
/** Readable; in revents also end of file, peer half-close or hang-up. */
#define LOOP_READ	0x01u
/** Writable. */
#define LOOP_WRITE	0x02u
/**
 * Revents only: the descriptor is in an error or hung-up state
 * (EPOLLERR or EPOLLHUP).  It always comes together with whichever of
 * LOOP_READ and LOOP_WRITE the descriptor is registered for, so a
 * callback that simply reads or writes learns the cause (0 for end of
 * file, or errno) from that system call.  Data may still be buffered
 * after a hang-up: read until end of file before closing if it matters.
 */
#define LOOP_ERROR	0x04u
/**
 * Interest only: edge-triggered (EPOLLET).  The callback runs once per
 * change of readiness, so it must read or write until EAGAIN, or it will
 * not be called again for data already there.
 */
#define LOOP_EDGE	0x08u
/**
 * Revents only: the peer closed its side (EPOLLRDHUP or EPOLLHUP), with
 * LOOP_READ.  An edge-triggered reader that stops at a short read must
 * read on while this is set: the end of file came with the last data and
 * no further edge will announce it.
 */
#define LOOP_HUP	0x10u
/** @} */

/**
 * Called when a registered descriptor is ready.
 *
 * @param[in] loop	the loop the descriptor is registered with.
 * @param[in] fd	the descriptor.
 * @param[in] revents	LOOP_READ, LOOP_WRITE and LOOP_ERROR bits, never 0.
 * @param[in] arg	the argument given to loop_add().
 *
 * The callback may call loop_mod() or loop_del() on any descriptor, close
 * it and reuse its number: events the loop had already collected for a
 * descriptor that was deleted since, or deleted and registered again,
 * are dropped rather than delivered to the wrong callback.
 */
typedef void loop_io_cb(struct loop *loop, int fd, unsigned revents,
    void *arg);

/**
 * Forget fd like loop_del(), without the epoll_ctl() call, for a caller
 * that closes fd right after: closing the last descriptor of a file
 * removes it from the epoll set.  Never use it on a descriptor that was
 * dup()ed or inherited, whose file stays open.  0, or -1 with ENOENT.
 */
int	loop_forget(struct loop *loop, int fd);

/**
 * Called when a timer expires.
 *
 * @param[in] loop	the loop the timer was armed on.
 * @param[in] timer	the timer, already disarmed: the callback may
 *			re-arm it with loop_timer_set(), or free the
 *			structure embedding it.
 * @param[in] arg	the argument given to loop_timer_init().
 */
typedef void loop_timer_cb(struct loop *loop, struct loop_timer *timer,
    void *arg);

/**
 * Called by loop_once() before it waits for events.
 *
 * @param[in] loop	the loop.
 * @param[in] arg	the argument given to loop_set_before_wait().
 */
typedef void loop_hook_cb(struct loop *loop, void *arg);

/**
 * A timer, embedded by the caller in its own structure so that arming one
 * allocates nothing.  The layout is public only so that it can be
 * embedded: the members are the loop's, read and written only through the
 * loop_timer_* functions.
 */
struct loop_timer {
	uint64_t	 deadline;	/* heap key: never after due */
	uint64_t	 seq;		/* heap key: breaks ties */
	uint64_t	 due;		/* loop_now_ms() when due */
	uint64_t	 due_seq;	/* arming order: breaks ties */
	size_t		 index;		/* heap slot, or idle */
	loop_timer_cb	*cb;
	void		*arg;
	bool		 stopped;	/* in the heap, but disarmed */
};

/** The heap index of a timer that is not armed. */
#define LOOP_TIMER_IDLE	SIZE_MAX

/** Static equivalent of loop_timer_init(). */
#define LOOP_TIMER_INITIALIZER(cb, arg) \
	{ 0, 0, 0, 0, LOOP_TIMER_IDLE, (cb), (arg), false }

/**
 * Create a loop.
 *
 * @param[in] max_events	how many ready descriptors one wait collects
 *				at most; more are collected by the next one.
 * @return	a new loop, to be released with loop_free(), or NULL:
 *	<ul>
 *	<li>EINVAL - max_events is less than 1.
 *	<li>ENOMEM - out of memory.
 *	<li>errors of epoll_create1(2).
 *	</ul>
 *
 * The loop's epoll descriptor is close-on-exec.  Create the loop in the
 * process that will run it: after fork(2) parent and child would share the
 * epoll instance.  Its clock is read once here.
 */
struct loop	*loop_new(int max_events);

/**
 * Release a loop.
 *
 * @param[in] loop	the loop, or NULL.
 *
 * Closes the epoll descriptor and frees the loop's memory.  Registered
 * descriptors are neither closed nor called.  Armed timers are not touched
 * (their structures may already be gone); re-initialise one with
 * loop_timer_init() before using it with another loop.  Must not be called
 * from inside a callback of this loop.
 */
void		 loop_free(struct loop *loop);

/**
 * Register a descriptor.
 *
 * @param[in] loop	the loop.
 * @param[in] fd	an open descriptor that supports epoll (a socket,
 *			a pipe, an eventfd...), not registered with this loop.
 *			The caller keeps owning it and must loop_del() it
 *			before closing it: epoll forgets a descriptor only
 *			once every duplicate of it is closed.
 * @param[in] events	interest: LOOP_READ and/or LOOP_WRITE, optionally
 *			with LOOP_EDGE.  0 is allowed: only errors and
 *			hang-ups are then reported.
 * @param[in] cb	called when fd is ready; not NULL.
 * @param[in] arg	passed to cb, not owned by the loop.
 * @return	0, or -1:
 *	<ul>
 *	<li>EBADF - fd is negative.
 *	<li>EINVAL - events has unknown bits or cb is NULL.
 *	<li>EEXIST - fd is already registered with this loop.
 *	<li>ENOMEM - out of memory.
 *	<li>errors of epoll_ctl(2) EPOLL_CTL_ADD, such as EPERM for a regular
 *	file.
 *	</ul>
 */
int		 loop_add(struct loop *loop, int fd, unsigned events,
		    loop_io_cb *cb, void *arg);

/**
 * Change the interest of a registered descriptor.
 *
 * @param[in] loop	the loop.
 * @param[in] fd	a descriptor registered with loop_add().
 * @param[in] events	the new interest, as for loop_add().  In edge mode
 *			this also re-arms the edge: a descriptor that is
 *			still ready is reported again.
 * @return	0, or -1:
 *	<ul>
 *	<li>EINVAL - events has unknown bits.
 *	<li>ENOENT - fd is not registered with this loop.
 *	<li>errors of epoll_ctl(2) EPOLL_CTL_MOD.
 *	</ul>
 */
int		 loop_mod(struct loop *loop, int fd, unsigned events);

/**
 * Unregister a descriptor.
 *
 * @param[in] loop	the loop.
 * @param[in] fd	a descriptor registered with loop_add().
 * @return	0, or -1:
 *	<ul>
 *	<li>ENOENT - fd is not registered with this loop.
 *	<li>errors of epoll_ctl(2) EPOLL_CTL_DEL other than EBADF and ENOENT;
 *	the loop forgets fd even then.
 *	</ul>
 *
 * The callback is not called for fd after this returns, even for events
 * already collected in the batch being dispatched.  The caller may then
 * close fd.  EBADF and ENOENT from epoll mean the kernel has dropped the
 * registration already (fd was closed first), so they are not errors.
 */
int		 loop_del(struct loop *loop, int fd);

/**
 * Prepare a timer for use.
 *
 * @param[out] timer	the timer to initialise; must not be armed.
 * @param[in] cb	called when it expires; not NULL.
 * @param[in] arg	passed to cb, not owned by the loop.
 */
void		 loop_timer_init(struct loop_timer *timer,
		    loop_timer_cb *cb, void *arg);

/**
 * Arm a timer, or move it if it is armed already.
 *
 * @param[in] loop	the loop.
 * @param[in,out] timer	an initialised timer, armed on this loop or not.
 *			It must stay at its address until it fires or is
 *			cancelled.
 * @param[in] after_ms	expire at loop_now_ms() + after_ms (saturating).
 *			0 expires in the next loop_once(), not during the
 *			current round of timer callbacks.
 * @return	0, or -1:
 *	<ul>
 *	<li>ENOMEM - the heap could not grow; only arming a disarmed timer
 *	can fail, and it stays disarmed.
 *	</ul>
 *
 * Timers due in the same round fire in order of deadline, then of the
 * call to loop_timer_set() that armed or last moved them.
 *
 * Arming a disarmed timer or moving an armed one earlier is O(log n).
 * Moving an armed timer later, as a connection does on every request, is
 * O(1): the timer keeps its place in the heap and is put where it belongs
 * only if it reaches the top.  This is invisible to the caller: it never
 * fires early, and loop_once() does not wake up for its old deadline.
 */
int		 loop_timer_set(struct loop *loop, struct loop_timer *timer,
		    uint64_t after_ms);

/**
 * Disarm a timer.
 *
 * @param[in] loop	the loop it was armed on.
 * @param[in,out] timer	the timer; disarmed ones are left alone.
 *
 * After this the loop no longer refers to timer, so its structure may be
 * freed.  O(log n).
 */
void		 loop_timer_cancel(struct loop *loop,
		    struct loop_timer *timer);

/**
 * Disarm a timer that is about to be armed again, in O(1).
 *
 * @param[in] loop	the loop it was armed on.
 * @param[in,out] timer	the timer; disarmed ones are left alone.
 *
 * The timer will not fire and counts as disarmed, but it keeps its place
 * in the heap until it is armed again (then usually an O(1) move later)
 * or its old deadline comes, so the loop still refers to it:
 * loop_timer_cancel() must come before its structure is freed.  A
 * connection between two requests uses it where cancel-then-arm would
 * walk the heap twice.
 */
void		 loop_timer_stop(struct loop *loop, struct loop_timer *timer);

/**
 * @param[in] timer	an initialised timer.
 * @return	whether it is armed (stopped timers are not).
 */
bool		 loop_timer_armed(const struct loop_timer *timer);

/**
 * @param[in] loop	the loop.
 * @return	the loop's cached CLOCK_MONOTONIC time in milliseconds, as
 *		read when it last woke up (or by loop_update_time()).
 *		Cheap enough for every request; never decreases.
 */
uint64_t	 loop_now_ms(const struct loop *loop);

/**
 * Read the clock into the loop's cache now, for a callback that has run
 * long enough that the cached time would make its timeouts late.
 *
 * @param[in] loop	the loop.
 */
void		 loop_update_time(struct loop *loop);

/**
 * Set the hook called at the start of every loop_once(), before it waits;
 * a place to flush batched work.  The hook may call loop_stop() to make
 * this loop_once() return without waiting.
 *
 * @param[in] loop	the loop.
 * @param[in] cb	the hook, or NULL for none.
 * @param[in] arg	passed to cb, not owned by the loop.
 */
void		 loop_set_before_wait(struct loop *loop, loop_hook_cb *cb,
		    void *arg);

/**
 * Run one iteration: the before-wait hook, one epoll_wait(2), the
 * callbacks of the descriptors it reports, then the callbacks of timers
 * that are due.
 *
 * @param[in] loop		the loop.
 * @param[in] max_wait_ms	how long to wait at most for an event; -1
 *				waits until an event or the next timer, 0 does
 *				not wait.  A due timer shortens the wait.
 * @return	the number of callbacks run (0 on timeout or when a signal
 *		interrupted the wait), or -1 with errno from epoll_wait(2)
 *		(never EINTR).
 *
 * After a signal, it still runs the timers that are due, then returns so
 * that the caller can look at the flags its signal handlers set.  It
 * returns at once without waiting if loop_stop() has been called and
 * loop_run() has not yet consumed the request.
 */
int		 loop_once(struct loop *loop, int max_wait_ms);

/**
 * Run loop_once() until loop_stop() is called.
 *
 * @param[in] loop	the loop.
 * @return	0 after loop_stop(), whose request is then cleared so the
 *		loop can be run again; or -1 with errno as for loop_once().
 *
 * A signal does not end it; to react to signal flags, either check them
 * in the before-wait hook and call loop_stop(), or call loop_once() in a
 * loop of your own.
 */
int		 loop_run(struct loop *loop);

/**
 * Ask loop_run() to return once the current iteration is done.  Events
 * already collected are still dispatched and due timers still run, since
 * edge-triggered ones would otherwise be lost.
 *
 * @param[in] loop	the loop.
 */
void		 loop_stop(struct loop *loop);

#endif /* SHUNT_LOOP_H */
