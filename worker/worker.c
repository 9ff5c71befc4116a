/*
 * worker.c: one worker process: its loop, its listeners, its signals.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accesslog.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "orphan.h"
#include "peers.h"
#include "req.h"
#include "tls.h"
#include "upstream.h"
#include "worker.h"

/* Connections taken per listener wake-up, so one busy port can't starve. */
#define WORKER_ACCEPT_BATCH	64

static void
worker_listen_pause(struct worker *w, struct listener_rt *l)
{
	if (l->paused || l->fd == -1)
		return;
	(void)loop_del(w->loop, l->fd);
	l->paused = true;
}

static void	worker_on_accept(struct loop *, int, unsigned, void *);

static void
worker_listen_resume(struct worker *w)
{
	size_t	 i;

	for (i = 0; i < w->nlisteners; i++) {
		struct listener_rt *l = &w->listeners[i];

		if (!l->paused || l->fd == -1)
			continue;
		if (loop_add(w->loop, l->fd, LOOP_READ, worker_on_accept, l) ==
		    0)
			l->paused = false;
	}
}

/* A connection went: resume accepting, or finish a graceful stop when it
 * was the last. */
static void
worker_conn_closed(struct worker *w)
{
	if (w->stopping) {
		if (w->nconns == 0)
			loop_stop(w->loop);
		return;
	}
	if (w->nconns < w->cfg->listeners[0].limits.max_connections)
		worker_listen_resume(w);
}

static void
worker_on_accept(struct loop *loop, int fd, unsigned revents, void *arg)
{
	struct listener_rt	*l = arg;
	struct worker		*w;
	struct sockaddr_storage	 sa;
	socklen_t		 len;
	int			 cfd, i;

	(void)loop;
	(void)revents;
	w = l->w;
	for (i = 0; i < WORKER_ACCEPT_BATCH; i++) {
		if (w->nconns >= l->cfg->limits.max_connections) {
			worker_listen_pause(w, l);
			return;
		}
		len = sizeof(sa);
		cfd = accept4(fd, (struct sockaddr *)&sa, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ECONNABORTED)
				continue;
			/* EMFILE and friends: wait for a close to free one. */
			log_warn("accept on %s", l->cfg->addr.text);
			worker_listen_pause(w, l);
			return;
		}
		conn_new(w, l, cfd, &sa);
	}
}

static void
worker_stop_accepting(struct worker *w)
{
	size_t	 i;

	/*
	 * Only this worker's copy closes: the master still holds the socket,
	 * so connections queued on it wait for the next worker of the slot.
	 */
	for (i = 0; i < w->nlisteners; i++) {
		if (w->listeners[i].fd == -1)
			continue;
		if (!w->listeners[i].paused)
			(void)loop_del(w->loop, w->listeners[i].fd);
		close(w->listeners[i].fd);
		w->listeners[i].fd = -1;
	}
}

static void
worker_on_stop_timer(struct loop *loop, struct loop_timer *t, void *arg)
{
	struct worker	*w = arg;

	(void)t;
	log_warnx("shutdown_timeout: closing %zu connections still open",
	    w->nconns);
	loop_stop(loop);
}

static void
worker_graceful_stop(struct worker *w)
{
	if (w->stopping)
		return;
	w->stopping = true;
	log_info("worker %u stopping: finishing %zu connections", w->slot,
	    w->nconns);
	worker_stop_accepting(w);
	conn_close_idle(w);
	up_close_idle(w);
	if (w->nconns == 0) {
		loop_stop(w->loop);
		return;
	}
	loop_timer_init(&w->stop_timer, worker_on_stop_timer, w);
	(void)loop_timer_set(w->loop, &w->stop_timer,
	    w->cfg->limits.shutdown_timeout_ms);
}

static void
worker_on_signal(struct loop *loop, int fd, unsigned revents, void *arg)
{
	struct worker			*w = arg;
	struct signalfd_siginfo		 si;

	(void)revents;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
			worker_graceful_stop(w);
			break;
		case SIGINT:
		case SIGQUIT:
			w->stopping = true;
			loop_stop(loop);
			return;
		case SIGUSR1:
			(void)log_open(w->cfg->log.error);
			(void)accesslog_open(w);
			break;
		default:
			break;
		}
	}
}

static int
worker_pools_init(struct worker *w)
{
	const struct shunt_config	*cfg = w->cfg;
	struct wpool			*p;
	size_t				 i, j;

	w->npools = cfg->npools;
	if ((w->pools = calloc(cfg->npools, sizeof(*w->pools))) == NULL)
		return -1;
	for (i = 0; i < cfg->npools; i++) {
		p = &w->pools[i];
		p->cfg = &cfg->pools[i];
		if (bal_pool_init(&p->bal, p->cfg) == -1)
			return -1;
		peers_params(p->cfg, &p->params);
		if ((p->peers = calloc(p->cfg->npeers,
		    sizeof(*p->peers))) == NULL)
			return -1;
		for (j = 0; j < p->cfg->npeers; j++) {
			p->peers[j].cfg = &p->cfg->peers[j];
			p->peers[j].bal = &p->bal.peers[j];
		}
	}
	return 0;
}

static void
worker_free(struct worker *w)
{
	size_t	 i, j;

	while (!LIST_EMPTY(&w->conns))
		conn_close(LIST_FIRST(&w->conns));
	req_free_spares(w);
	up_close_idle(w);
	/* Before the store closes: what they hold goes back to it. */
	orphan_close_all(w);
	peers_close(w);
	for (i = 0; w->pools != NULL && i < w->npools; i++) {
		bal_pool_free(&w->pools[i].bal);
		for (j = 0; w->pools[i].peers != NULL &&
		    j < w->pools[i].cfg->npeers; j++)
			tls_session_free(w->pools[i].peers[j].tls_session);
		free(w->pools[i].peers);
	}
	free(w->pools);
	worker_stop_accepting(w);
	free(w->listeners);
	if (w->sigfd != -1)
		close(w->sigfd);
	if (w->access_fd != -1)
		close(w->access_fd);
	loop_free(w->loop);
}

int
worker_main(const struct shunt_config *cfg, const int *listen_fds,
    size_t nfds, unsigned slot)
{
	struct worker	 w;
	sigset_t	 mask;
	size_t		 i;

	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.slot = slot;
	w.conn_closed = worker_conn_closed;
	w.sigfd = -1;
	w.access_fd = -1;
	snprintf(w.name, sizeof(w.name), "worker %u", slot);
	log_set_procname(w.name);
	signal(SIGPIPE, SIG_IGN);

	/* Signals arrive through the loop, between two events. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGHUP);
	/* A worker outliving a killed master would hold its ports. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 1;
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1 ||
	    (w.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		log_warn("signalfd");
		return 1;
	}
	if ((w.loop = loop_new(512)) == NULL) {
		log_warn("loop_new");
		return 1;
	}
	if (loop_add(w.loop, w.sigfd, LOOP_READ, worker_on_signal, &w) == -1 ||
	    worker_pools_init(&w) == -1) {
		log_warn("worker setup");
		worker_free(&w);
		return 1;
	}
	http_settings_init(&w);
	(void)accesslog_open(&w);
	/* After fork, as every LMDB environment must be (DEPENDENCIES.md). */
	(void)peers_open(&w);

	w.nlisteners = nfds;
	if ((w.listeners = calloc(nfds > 0 ? nfds : 1,
	    sizeof(*w.listeners))) == NULL) {
		worker_free(&w);
		return 1;
	}
	for (i = 0; i < nfds; i++) {
		w.listeners[i].w = &w;
		w.listeners[i].fd = listen_fds[i];
		w.listeners[i].cfg = &cfg->listeners[i % cfg->nlisteners];
		if (loop_add(w.loop, listen_fds[i], LOOP_READ,
		    worker_on_accept, &w.listeners[i]) == -1) {
			log_warn("listen %s", w.listeners[i].cfg->addr.text);
			worker_free(&w);
			return 1;
		}
	}

	if (loop_run(w.loop) == -1)
		log_warn("event loop");
	worker_free(&w);
	return 0;
}
