/*
 * req.h: a request's lifecycle: its memory, its array of tries, and the
 * worker's spare requests.  What a request does is proxy.c's.
 */
#ifndef SHUNT_REQ_H
#define SHUNT_REQ_H

#include "worker-t.h"

/*
 * A request on c, zeroed but for the head storage of a spare one, which
 * reports to settle when an upstream event moved it; or NULL.
 */
struct req	*req_new(struct conn *c,
		    void (*settle)(struct req *, enum req_verdict));

/* Room for the tries of a request to pool: 0, or -1 (no memory). */
int		 req_tries_init(struct req *r, const struct cfg_pool *pool);

/* The next try, zeroed, or NULL (no memory). */
struct req_try	*req_try_add(struct req *r);

/*
 * Release everything r owns; r->up must be gone (proxy_abort()).  r itself
 * may be kept as a spare for req_new().
 */
void		 req_free(struct req *r);

/* Free the worker's spare requests (at exit). */
void		 req_free_spares(struct worker *w);

#endif /* SHUNT_REQ_H */
