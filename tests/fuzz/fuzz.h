/*
 * fuzz.h: what the libFuzzer harnesses of tests/fuzz share.
 *
 * Each harness defines LLVMFuzzerTestOneInput() and is linked two ways:
 * with clang's libFuzzer (-fsanitize=fuzzer) by `configure
 * --enable-fuzzing`, and with driver.c, which replays the seed and
 * regression files in `make check` with any compiler.  Both links pass
 * -Wl,--wrap for the two symbols below (see FUZZ_WRAP in Makefile.am).
 */
#ifndef SHUNT_FUZZ_H
#define SHUNT_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include <netdb.h>

#include "worker-t.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The want of the latest buf_reserve() call made from outside buf.c (the
 * head builders reserve their bound once, then write without checks).
 * A harness zeroes it, builds, and checks the bytes written against it:
 * an overrun inside the buffer's size class is invisible to ASan.
 */
extern size_t	fuzz_reserved;
int	__real_buf_reserve(struct buf *b, size_t want);
int	__wrap_buf_reserve(struct buf *b, size_t want);

/*
 * The config loader resolves host names; a fuzzer must not query DNS
 * thousands of times a second, nor depend on it.  Numeric hosts and
 * "localhost" resolve; any other name fails as an unknown one would.
 */
int	__real_getaddrinfo(const char *node, const char *service,
	    const struct addrinfo *hints, struct addrinfo **res);
int	__wrap_getaddrinfo(const char *node, const char *service,
	    const struct addrinfo *hints, struct addrinfo **res);

/* The limits a config gets when it sets none: cfg.c's defaults. */
const struct cfg_limits *fuzz_default_limits(void);

/* Stop with a message on stderr: the fuzzer records the input. */
void	fuzz_fail(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif /* SHUNT_FUZZ_H */
