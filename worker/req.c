/* req.c: allocating, growing and freeing requests. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http.h"
#include "req.h"

/*
 * Freed requests wait in a short per-worker list, with the storage of
 * their head, for the next request: allocating them was a tenth of a
 * keep-alive request's instructions.
 */
#ifdef SHUNT_SANITIZERS
static const size_t req_spares_max = 0;	/* use after free is reported */
#else
static const size_t req_spares_max = 32;
#endif

struct req *
req_new(struct conn *c, void (*settle)(struct req *, enum req_verdict))
{
	struct worker		*w = c->w;
	struct req		*r;
	struct http_req_head	 head;

	if ((r = w->spare_reqs) != NULL) {
		w->spare_reqs = r->next_spare;
		w->nspare_reqs--;
		head = r->head;
		memset(r, 0, sizeof(*r));
		r->head = head;
	} else if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->c = c;
	r->settle = settle;
	return r;
}

int
req_tries_init(struct req *r, const struct cfg_pool *pool)
{
	/* The usual pool fits the arrays inside the request: no malloc. */
	r->tries_cap = pool->retry.tries + 2;
	if (r->tries_cap <= sizeof(r->tries_inline) /
	    sizeof(r->tries_inline[0]))
		r->tries = r->tries_inline;
	else
		r->tries = calloc(r->tries_cap, sizeof(*r->tries));
	if (pool->npeers <= sizeof(r->tried_inline))
		r->tried = r->tried_inline;
	else
		r->tried = calloc(pool->npeers, sizeof(*r->tried));
	return r->tries == NULL || r->tried == NULL ? -1 : 0;
}

struct req_try *
req_try_add(struct req *r)
{
	struct req_try	*grown, *t;

	if (r->ntries == r->tries_cap) {
		grown = r->tries == r->tries_inline ? malloc(2 * r->tries_cap *
		    sizeof(*grown)) : realloc(r->tries, 2 * r->tries_cap *
		    sizeof(*grown));
		if (grown == NULL)
			return NULL;
		if (r->tries == r->tries_inline)
			memcpy(grown, r->tries_inline, sizeof(r->tries_inline));
		r->tries = grown;
		r->tries_cap *= 2;
	}
	t = &r->tries[r->ntries++];
	memset(t, 0, sizeof(*t));
	return t;
}

void
req_free(struct req *r)
{
	struct worker	*w = r->c->w;

	buf_free(&r->replay);
	buf_free(&r->up_head);
	buf_free(&r->up_out);
	buf_free(&r->up_in);
	if (r->tried != r->tried_inline)
		free(r->tried);
	if (r->tries != r->tries_inline)
		free(r->tries);
	if (w->nspare_reqs < req_spares_max) {
		http_req_head_keep(&r->head);
		r->next_spare = w->spare_reqs;
		w->spare_reqs = r;
		w->nspare_reqs++;
		return;
	}
	http_req_head_free(&r->head);
	free(r);
}

void
req_free_spares(struct worker *w)
{
	struct req	*r;

	while ((r = w->spare_reqs) != NULL) {
		w->spare_reqs = r->next_spare;
		http_req_head_free(&r->head);
		free(r);
	}
	w->nspare_reqs = 0;
}
