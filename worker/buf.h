/*
 * buf.h: the byte buffers of connections and requests.
 *
 * Memory is taken only while a buffer holds data, and given back by
 * buf_free(), so an idle keep-alive connection costs no buffer at all.
 */
#ifndef SHUNT_BUF_H
#define SHUNT_BUF_H

#include <stddef.h>

#include "worker-t.h"

/* Make room for at least want more bytes after len; 0 or -1 (ENOMEM). */
int	buf_reserve(struct buf *b, size_t want);
/* Append; 0 or -1. */
int	buf_append(struct buf *b, const void *data, size_t len);
int	buf_appendf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Drop n consumed bytes from the front; resets to empty when all gone. */
void	buf_consume(struct buf *b, size_t n);
/* Move unconsumed data to the start of the storage. */
void	buf_compact(struct buf *b);
void	buf_free(struct buf *b);

static inline size_t
buf_used(const struct buf *b)
{
	return b->len - b->off;
}

static inline char *
buf_start(const struct buf *b)
{
	return b->data + b->off;
}

#endif /* SHUNT_BUF_H */
