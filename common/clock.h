/*
 * clock.h: the clocks in milliseconds, and saturating arithmetic on them.
 *
 * clock_wall_ms() is what the store records (times shown to operators
 * and shared between processes); clock_mono_ms() measures intervals
 * within one process.  A deadline far away (a duration of "never")
 * saturates at UINT64_MAX instead of wrapping round to "now".
 */
#ifndef SHUNT_CLOCK_H
#define SHUNT_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
clock_ms_of(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000 + (uint64_t)ts->tv_nsec / 1000000;
}

/* Milliseconds since the epoch (CLOCK_REALTIME). */
static inline uint64_t
clock_wall_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return clock_ms_of(&ts);
}

/* Milliseconds of CLOCK_MONOTONIC: never steps back. */
static inline uint64_t
clock_mono_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return clock_ms_of(&ts);
}

/* a + b, or UINT64_MAX when that overflows. */
static inline uint64_t
add_sat_u64(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

#endif /* SHUNT_CLOCK_H */
