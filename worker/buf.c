/* buf.c: growable byte buffers and the worker's cache of their blocks. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/*
 * Storage of released buffers, kept by size class for the next request:
 * a connection returns its buffers whenever it goes idle, and malloc and
 * free of 4-64 KiB blocks on every request cost more than the parsing.
 * Per process (each worker has its own after fork); bounded, so an idle
 * worker holds at most BUF_CACHE_SLOTS blocks of each size.
 */
#define BUF_CLASSES	5
#define BUF_CACHE_SLOTS	32
/* Sanitizer builds keep none: a use after buf_free() must be reported. */
#ifdef SHUNT_SANITIZERS
static const size_t buf_cache_keep = 0;
#else
static const size_t buf_cache_keep = BUF_CACHE_SLOTS;
#endif

static const size_t buf_class_size[BUF_CLASSES] = {
	4096, 8192, 16384, 32768, 65536
};

static struct {
	char	*blocks[BUF_CLASSES][BUF_CACHE_SLOTS];
	size_t	 n[BUF_CLASSES];
} buf_cache;

static int
buf_class(size_t cap)
{
	int	 c;

	for (c = 0; c < BUF_CLASSES; c++)
		if (buf_class_size[c] == cap)
			return c;
	return -1;
}

/* First storage for an empty buffer: the smallest class that fits. */
static int
buf_take(struct buf *b, size_t want)
{
	int	 c;

	for (c = 0; c < BUF_CLASSES && buf_class_size[c] < want; c++)
		;
	if (c == BUF_CLASSES)
		return 1;
	if (buf_cache.n[c] > 0)
		b->data = buf_cache.blocks[c][--buf_cache.n[c]];
	else if ((b->data = malloc(buf_class_size[c])) == NULL)
		return -1;
	b->cap = buf_class_size[c];
	b->off = b->len = 0;
	return 0;
}

int
buf_reserve(struct buf *b, size_t want)
{
	size_t	 cap;
	char	*p;
	int	 rc;

	if (b->cap - b->len >= want)
		return 0;
	if (b->data == NULL && (rc = buf_take(b, want)) <= 0)
		return rc;
	/* Reclaim consumed space before growing. */
	if (b->off > 0 && b->cap - buf_used(b) >= want) {
		buf_compact(b);
		return 0;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap - buf_used(b) < want) {
		if (cap > SIZE_MAX / 2) {
			errno = ENOMEM;
			return -1;
		}
		cap *= 2;
	}
	buf_compact(b);
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (buf_reserve(b, len) == -1)
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

int
buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(b->data ? b->data + b->len : NULL,
	    b->data ? b->cap - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (b->data != NULL && (size_t)n < b->cap - b->len) {
		b->len += (size_t)n;
		return 0;
	}
	if (buf_reserve(b, (size_t)n + 1) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void
buf_compact(struct buf *b)
{
	if (b->off == 0)
		return;
	memmove(b->data, b->data + b->off, buf_used(b));
	b->len -= b->off;
	b->off = 0;
}

void
buf_free(struct buf *b)
{
	int	 c;

	/* Most buffers of a finished request never held anything. */
	if (b->data == NULL) {
		b->off = b->len = b->cap = 0;
		return;
	}
	if ((c = buf_class(b->cap)) != -1 && buf_cache.n[c] < buf_cache_keep)
		buf_cache.blocks[c][buf_cache.n[c]++] = b->data;
	else
		free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}
