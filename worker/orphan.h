/*
 * orphan.h: connects whose request stopped waiting for them.
 *
 * When a connect's SYN goes unanswered past the suspect threshold, the
 * request may move on to another peer (proxy.c).  Its connect is not
 * dropped: how it ends is the peer's verdict, so it finishes on its own,
 * owned by the worker, and reports that end like any connect (peers.c):
 * a completed connect clears the peer's suspicion, a refusal or the rest
 * of the connect timeout counts against the peer.  Nothing is ever sent
 * on an orphan, and it is closed when it ends.
 */
#ifndef SHUNT_ORPHAN_H
#define SHUNT_ORPHAN_H

#include <stdbool.h>

#include "worker-t.h"

/*
 * Take over a connecting upstream whose request let it go (up->req is
 * cleared).  Its timer must already be armed for the rest of its connect
 * timeout (timer_kind FAIL_CONNECT_TIMEOUT).  trial and probe say whether
 * it holds the peer's trial connect or its recovery probe, which end
 * with it.
 */
void	orphan_adopt(struct upstream *up, bool trial, bool probe);

/*
 * Close every orphan of the worker without a verdict (the worker is
 * stopping): what they held goes back to the store unjudged.
 */
void	orphan_close_all(struct worker *w);

#endif /* SHUNT_ORPHAN_H */
