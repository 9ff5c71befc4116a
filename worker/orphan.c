/*
 * orphan.c: connects whose request stopped waiting for them; see
 * orphan.h.
 *
 * A connected orphan is closed rather than parked for reuse: the
 * transport may still owe a handshake before a connection is fit for a
 * request, and one more connect to a peer that answers again costs
 * little.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <sys/socket.h>

#include "log.h"
#include "orphan.h"
#include "peers.h"
#include "upstream.h"

static void	orphan_event(struct upstream *);
static void	orphan_timeout(struct upstream *);

static const struct up_handlers orphan_handlers = {
	orphan_event, orphan_timeout
};

void
orphan_adopt(struct upstream *up, bool trial, bool probe)
{
	struct worker	*w = up->w;

	up->req = NULL;
	up->owner = &orphan_handlers;
	up->state = UP_ORPHAN;
	up->trial = trial;
	up->probe = probe;
	LIST_INSERT_HEAD(&w->orphans, up, link);
}

static void
orphan_end(struct upstream *up, enum failure_kind kind)
{
	struct worker		*w = up->w;
	struct wpeer		*wp = up->wp;
	uint64_t		 ms;

	LIST_REMOVE(up, link);
	ms = loop_now_ms(w->loop) - up->connect_start_ms;
	if (failure_blames_peer(kind))
		log_warnx("upstream %s/%s: %s while connecting, after %llu ms "
		    "(its request had moved on to another peer)",
		    wp->cfg->pool->name, wp->cfg->addr.text,
		    failure_name(kind), (unsigned long long)ms);
	peers_orphan_done(w, wp, kind, "connecting (request moved on)",
	    up->trial, up->probe, up->connect_start_ms);
	up_close(up);
}

static void
orphan_event(struct upstream *up)
{
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (!up->writable && !up->readable)
		return;
	if (getsockopt(up->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == EINPROGRESS)
		return;
	orphan_end(up, err == 0 ? FAIL_NONE : up_connect_failure(err));
}

static void
orphan_timeout(struct upstream *up)
{
	orphan_end(up, FAIL_CONNECT_TIMEOUT);
}

void
orphan_close_all(struct worker *w)
{
	while (!LIST_EMPTY(&w->orphans))
		orphan_end(LIST_FIRST(&w->orphans), FAIL_CLIENT_ABORT);
}
