/*
 * listen.c: bind the listeners, one socket per listener and worker slot.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"

#define LISTEN_BACKLOG	511

/*
 * fds[slot * nlisteners + i] is slot's socket for listener i: slot-major,
 * so that one slot's row is the worker's listen_fds array as it is.
 */
struct listen_set {
	size_t		 nlisteners;
	unsigned	 nslots;
	int		*fds;
	bool		*reused;	/* listen_reload(): taken from the old set */
};

/*
 * A bound socket for addr, listening unless probe is set.  The probe has no
 * SO_REUSEPORT, so its bind fails while anything listens on addr: without
 * it a second shunt (same user) would silently share our port.
 */
static int
listen_bind(const struct cfg_addr *addr, int probe)
{
	int	 fd, on = 1, saved;

	fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	if (!probe &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	/* "[::]:80" means IPv6 only; "0.0.0.0:80" is a listener of its own. */
	if (addr->sa.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&addr->sa, addr->salen) == -1)
		goto fail;
	if (!probe && listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static bool
listen_same_addr(const struct cfg_addr *a, const struct cfg_addr *b)
{
	return a->salen == b->salen && memcmp(&a->sa, &b->sa, a->salen) == 0;
}

/* The listener of old_cfg bound to the same address as addr, or -1. */
static ssize_t
listen_find(const struct shunt_config *old_cfg, const struct cfg_addr *addr)
{
	size_t	 j;

	for (j = 0; old_cfg != NULL && j < old_cfg->nlisteners; j++)
		if (listen_same_addr(&old_cfg->listeners[j].addr, addr))
			return (ssize_t)j;
	return -1;
}

/* The socket of old for listener j in slot s, or -1. */
static int
listen_old_fd(const struct listen_set *old, ssize_t j, unsigned s)
{
	if (old == NULL || j == -1 || s >= old->nslots)
		return -1;
	return old->fds[(size_t)s * old->nlisteners + (size_t)j];
}

struct listen_set *
listen_reload(const struct listen_set *old,
    const struct shunt_config *old_cfg, const struct shunt_config *cfg,
    unsigned nslots, char *err, size_t errlen)
{
	struct listen_set	*ls;
	size_t			 i, k, n;
	ssize_t			 j;
	unsigned		 s;
	int			 probe;

	/*
	 * Never fewer sockets than before: closing one that left the
	 * SO_REUSEPORT group would reset the connections queued on it.  With
	 * fewer workers, each serves the slots listen_worker_fds() folds
	 * onto it.
	 */
	if (old != NULL && nslots < old->nslots)
		nslots = old->nslots;
	n = cfg->nlisteners * nslots;
	if ((ls = calloc(1, sizeof(*ls))) == NULL ||
	    (ls->fds = calloc(n > 0 ? n : 1, sizeof(int))) == NULL ||
	    (ls->reused = calloc(n > 0 ? n : 1, sizeof(bool))) == NULL) {
		snprintf(err, errlen, "cannot listen: %s", strerror(errno));
		if (ls != NULL)
			free(ls->fds);
		free(ls);
		return NULL;
	}
	ls->nlisteners = cfg->nlisteners;
	ls->nslots = nslots;
	for (i = 0; i < n; i++)
		ls->fds[i] = -1;
	for (i = 0; i < cfg->nlisteners; i++) {
		j = listen_find(old_cfg, &cfg->listeners[i].addr);
		/* Only a new address must be free: ours is, to us. */
		if (j == -1) {
			if ((probe = listen_bind(&cfg->listeners[i].addr, 1)) ==
			    -1)
				goto fail;
			close(probe);
		}
		for (s = 0; s < nslots; s++) {
			k = (size_t)s * ls->nlisteners + i;
			if ((ls->fds[k] = listen_old_fd(old, j, s)) != -1) {
				ls->reused[k] = true;
				continue;
			}
			if ((ls->fds[k] = listen_bind(&cfg->listeners[i].addr,
			    0)) == -1)
				goto fail;
		}
	}
	return ls;
fail:
	snprintf(err, errlen, "cannot listen on %s: %s",
	    cfg->listeners[i].addr.text, strerror(errno));
	listen_close(ls);
	return NULL;
}

struct listen_set *
listen_open(const struct shunt_config *cfg, unsigned nslots, char *err,
    size_t errlen)
{
	return listen_reload(NULL, NULL, cfg, nslots, err, errlen);
}

void
listen_commit(struct listen_set *ls, struct listen_set *old)
{
	size_t	 i, j;

	for (i = 0; ls->reused != NULL &&
	    i < ls->nlisteners * ls->nslots; i++) {
		if (!ls->reused[i])
			continue;
		for (j = 0; j < old->nlisteners * old->nslots; j++)
			if (old->fds[j] == ls->fds[i])
				old->fds[j] = -1;
	}
	free(ls->reused);
	ls->reused = NULL;
}

unsigned
listen_nslots(const struct listen_set *ls)
{
	return ls->nslots;
}

int *
listen_worker_fds(const struct listen_set *ls, unsigned slot,
    unsigned nworkers, size_t *nfds)
{
	size_t		 n = 0;
	unsigned	 s;
	int		*fds;

	if ((fds = calloc((ls->nslots / nworkers + 1) * ls->nlisteners + 1,
	    sizeof(int))) == NULL)
		return NULL;
	for (s = slot; s < ls->nslots; s += nworkers) {
		memcpy(fds + n, &ls->fds[(size_t)s * ls->nlisteners],
		    ls->nlisteners * sizeof(int));
		n += ls->nlisteners;
	}
	*nfds = n;
	return fds;
}

void
listen_keep_slot(struct listen_set *ls, unsigned slot, unsigned nworkers)
{
	size_t	 i;
	int	*fd;

	for (i = 0; i < ls->nlisteners * ls->nslots; i++) {
		fd = &ls->fds[i];
		if ((i / ls->nlisteners) % nworkers == slot || *fd == -1)
			continue;
		close(*fd);
		*fd = -1;
	}
}

void
listen_close(struct listen_set *ls)
{
	size_t	 i;

	if (ls == NULL)
		return;
	/* An uncommitted reload set must not close what the old one owns. */
	for (i = 0; i < ls->nlisteners * ls->nslots; i++)
		if (ls->fds[i] != -1 && (ls->reused == NULL || !ls->reused[i]))
			close(ls->fds[i]);
	free(ls->reused);
	free(ls->fds);
	free(ls);
}
