/*
 * upstream.h: connections to peers and each worker's idle keep-alive lists.
 */
#ifndef SHUNT_UPSTREAM_H
#define SHUNT_UPSTREAM_H

#include "worker-t.h"

/*
 * Start a non-blocking connect to wp's peer, owned by owner, whose
 * handlers get its events and timer.  Returns the connection in
 * UP_CONNECTING (for a TLS peer with its TLS state ready, offering the
 * peer's last session), or NULL with *fail saying why it failed at once
 * (connect_refused, unreachable, ...).
 */
struct upstream	*up_connect(struct worker *w, struct wpeer *wp,
		    const struct up_handlers *owner, enum failure_kind *fail);

/*
 * Is up's connect still waiting for the answer to its SYN (TCP state
 * SYN-SENT)?  False once the handshake completed or failed, even if the
 * loop has not delivered that event yet; true when it cannot tell.
 */
bool		 up_syn_unanswered(const struct upstream *up);

/* The most recently parked idle connection to wp, now owner's, or NULL. */
struct upstream	*up_take_idle(struct wpeer *wp,
		    const struct up_handlers *owner);

/*
 * Keep a connection whose response ended cleanly for the next request to
 * the same peer, or close it when the list is full or keep-alive is off.
 */
void		 up_park(struct upstream *up);

/* Close and free; also unlinks an idle connection. */
void		 up_close(struct upstream *up);

/* Close every idle connection of the worker (shutdown). */
void		 up_close_idle(struct worker *w);

/* Map a connect errno to a failure kind. */
enum failure_kind up_connect_failure(int err);

#endif /* SHUNT_UPSTREAM_H */
