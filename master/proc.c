/*
 * proc.c: fork, reap, respawn and stop the workers.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "state.h"
#include "proc.h"
#include "sig.h"
#include "worker.h"

#define PROC_QUICK_DEATH_MS	1000	/* dying younger than this backs off */
#define PROC_BACKOFF_MIN_MS	1000
#define PROC_BACKOFF_MAX_MS	30000
#define PROC_FAST_STOP_MS	1000	/* INT: time left before SIGKILL */
#define PROC_STOP_MARGIN_MS	1000	/* TERM: beyond shutdown_timeout */
#define PROC_KILL_WAIT_MS	2000	/* SIGKILL: time left before we leave */

struct proc_worker {
	pid_t		 pid;		/* -1: not running */
	unsigned	 slot;
	uint64_t	 started_ms;
	bool		 respawn;	/* waiting to be respawned */
	uint64_t	 respawn_ms;	/* when */
	uint64_t	 backoff_ms;	/* the last wait; 0 after a healthy run */
};

enum proc_state {
	PROC_RUNNING = 0,
	PROC_QUITTING,			/* TERM sent: graceful */
	PROC_STOPPING,			/* INT sent: fast */
	PROC_KILLING,			/* SIGKILL sent */
};

/* The master's runtime state: one per process, on proc_run()'s stack. */
struct proc_master {
	const struct shunt_config	*cfg;
	struct listen_set		*ls;
	struct proc_worker		*workers;
	unsigned			 nworkers;
	enum proc_state			 state;
	uint64_t			 deadline_ms;	/* of this stop phase */
};

static uint64_t
proc_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
proc_add_ms(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static unsigned
proc_nrunning(const struct proc_master *m)
{
	unsigned	 i, n = 0;

	for (i = 0; i < m->nworkers; i++)
		if (m->workers[i].pid != -1)
			n++;
	return n;
}

/* After workers came or went: their pids, and the readers they left. */
static void
proc_state(struct proc_master *m)
{
	int32_t		 pids[256];
	unsigned	 i, n = m->nworkers < 256 ? m->nworkers : 256;

	for (i = 0; i < n; i++)
		pids[i] = m->workers[i].pid == -1 ? 0 :
		    (int32_t)m->workers[i].pid;
	state_workers(m->cfg, pids, n);
}

static void
proc_signal_all(struct proc_master *m, int signo)
{
	unsigned	 i;

	for (i = 0; i < m->nworkers; i++)
		if (m->workers[i].pid != -1 &&
		    kill(m->workers[i].pid, signo) == -1 && errno != ESRCH)
			log_warn("cannot signal worker %d",
			    (int)m->workers[i].pid);
}

static void __attribute__((noreturn))
proc_worker_child(struct proc_master *m, unsigned slot)
{
	sig_child_reset();
	listen_keep_slot(m->ls, slot);
	/* _exit: the master's stdio buffers and atexit work are not ours. */
	_exit(worker_main(m->cfg, listen_slot_fds(m->ls, slot), slot));
}

static int
proc_spawn(struct proc_master *m, struct proc_worker *w)
{
	pid_t	 pid;

	fflush(NULL);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0)
		proc_worker_child(m, w->slot);
	w->pid = pid;
	w->started_ms = proc_now_ms();
	w->respawn = false;
	log_info("worker %d started (slot %u)", (int)pid, w->slot);
	return 0;
}

static void
proc_backoff(struct proc_worker *w, uint64_t now)
{
	if (w->backoff_ms == 0)
		w->backoff_ms = PROC_BACKOFF_MIN_MS;
	else if (w->backoff_ms < PROC_BACKOFF_MAX_MS / 2)
		w->backoff_ms *= 2;
	else
		w->backoff_ms = PROC_BACKOFF_MAX_MS;
	w->respawn = true;
	w->respawn_ms = proc_add_ms(now, w->backoff_ms);
}

static void
proc_status_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d%s", WTERMSIG(status),
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "changed state 0x%x", (unsigned)status);
}

static void
proc_exited(struct proc_master *m, struct proc_worker *w, int status,
    uint64_t now)
{
	char	 what[64];
	pid_t	 pid = w->pid;

	w->pid = -1;
	proc_status_text(status, what, sizeof(what));
	if (m->state != PROC_RUNNING) {
		log_info("worker %d (slot %u) %s", (int)pid, w->slot, what);
		return;
	}
	/*
	 * A worker that dies at once will die again (a bad certificate, no
	 * memory, a crash on startup): respawning it in a tight loop would
	 * only burn CPU and flood the log.
	 */
	if (now - w->started_ms < PROC_QUICK_DEATH_MS) {
		proc_backoff(w, now);
		log_error("worker %d (slot %u) %s within %ums of starting; "
		    "respawning in %llus", (int)pid, w->slot, what,
		    PROC_QUICK_DEATH_MS,
		    (unsigned long long)(w->backoff_ms / 1000));
		return;
	}
	w->backoff_ms = 0;
	w->respawn = true;
	w->respawn_ms = now;
	log_error("worker %d (slot %u) %s; respawning", (int)pid, w->slot,
	    what);
}

static void
proc_reap(struct proc_master *m)
{
	uint64_t	 now = proc_now_ms();
	pid_t		 pid;
	unsigned	 i;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < m->nworkers; i++)
			if (m->workers[i].pid == pid)
				break;
		if (i == m->nworkers) {
			log_debug("reaped unknown child %d", (int)pid);
			continue;
		}
		proc_exited(m, &m->workers[i], status, now);
	}
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
}

static void
proc_reap_and_record(struct proc_master *m)
{
	unsigned	 before = proc_nrunning(m);

	proc_reap(m);
	if (proc_nrunning(m) != before)
		proc_state(m);
}

static void
proc_respawn_due(struct proc_master *m, uint64_t now)
{
	struct proc_worker	*w;
	unsigned		 i;

	for (i = 0; i < m->nworkers; i++) {
		w = &m->workers[i];
		if (!w->respawn || w->respawn_ms > now)
			continue;
		if (proc_spawn(m, w) == 0) {
			proc_state(m);
		} else {
			proc_backoff(w, now);
			log_warn("cannot fork a worker for slot %u; retrying "
			    "in %llus", w->slot,
			    (unsigned long long)(w->backoff_ms / 1000));
		}
	}
}

/* How long the master may sleep: until the next respawn or deadline. */
static int64_t
proc_sleep_ms(const struct proc_master *m, uint64_t now)
{
	uint64_t	 until = UINT64_MAX;
	unsigned	 i;

	if (m->state != PROC_RUNNING)
		until = m->deadline_ms;
	else
		for (i = 0; i < m->nworkers; i++)
			if (m->workers[i].respawn &&
			    m->workers[i].respawn_ms < until)
				until = m->workers[i].respawn_ms;
	if (until == UINT64_MAX)
		return -1;
	if (until <= now)
		return 0;
	return until - now > INT64_MAX ? INT64_MAX : (int64_t)(until - now);
}

/* A listener may grant its connections longer than the global limit. */
static uint64_t
proc_shutdown_ms(const struct shunt_config *cfg)
{
	uint64_t	 ms = cfg->limits.shutdown_timeout_ms;
	size_t		 i;

	for (i = 0; i < cfg->nlisteners; i++)
		if (cfg->listeners[i].limits.shutdown_timeout_ms > ms)
			ms = cfg->listeners[i].limits.shutdown_timeout_ms;
	return ms;
}

static void
proc_stop(struct proc_master *m, enum proc_state how, uint64_t now)
{
	uint64_t	 deadline;
	unsigned	 i;

	/* A fast stop overrides a graceful one; nothing overrides SIGKILL. */
	if (how <= m->state)
		return;
	for (i = 0; i < m->nworkers; i++)
		m->workers[i].respawn = false;
	if (how == PROC_QUITTING) {
		deadline = proc_add_ms(now, proc_add_ms(proc_shutdown_ms(m->cfg),
		    PROC_STOP_MARGIN_MS));
		log_info("graceful stop: waiting up to %llums for %u workers",
		    (unsigned long long)(deadline - now), proc_nrunning(m));
		proc_signal_all(m, SIGTERM);
	} else {
		deadline = proc_add_ms(now, PROC_FAST_STOP_MS);
		if (m->state != PROC_RUNNING && m->deadline_ms < deadline)
			deadline = m->deadline_ms;
		log_info("fast stop: %u workers", proc_nrunning(m));
		proc_signal_all(m, SIGINT);
	}
	m->state = how;
	m->deadline_ms = deadline;
}

/* A stop phase ran out of time.  0, or -1 to give up waiting. */
static int
proc_escalate(struct proc_master *m, uint64_t now)
{
	unsigned	 i;

	if (m->state == PROC_KILLING) {
		log_error("%u workers survived SIGKILL; exiting without them",
		    proc_nrunning(m));
		return -1;
	}
	for (i = 0; i < m->nworkers; i++)
		if (m->workers[i].pid != -1)
			log_warnx("worker %d (slot %u) did not stop in time; "
			    "killing it", (int)m->workers[i].pid,
			    m->workers[i].slot);
	proc_signal_all(m, SIGKILL);
	m->state = PROC_KILLING;
	m->deadline_ms = proc_add_ms(now, PROC_KILL_WAIT_MS);
	return 0;
}

static void
proc_reopen(struct proc_master *m)
{
	if (m->cfg->log.error != NULL && log_open(m->cfg->log.error) == -1)
		log_warn("cannot reopen %s", m->cfg->log.error);
	else
		log_info("log files reopened");
	proc_signal_all(m, SIGUSR1);
}

/* The first workers: if one cannot be forked, none may run. */
static int
proc_start(struct proc_master *m)
{
	char		 pids[256];
	size_t		 off = 0;
	unsigned	 i;
	int		 n;

	for (i = 0; i < m->nworkers; i++) {
		if (proc_spawn(m, &m->workers[i]) == -1) {
			log_warn("cannot fork worker %u of %u", i + 1,
			    m->nworkers);
			proc_signal_all(m, SIGKILL);
			while (i-- > 0)
				(void)waitpid(m->workers[i].pid, NULL, 0);
			return -1;
		}
		if (off < sizeof(pids) && (n = snprintf(pids + off,
		    sizeof(pids) - off, "%s%d", i > 0 ? " " : "",
		    (int)m->workers[i].pid)) > 0)
			off += (size_t)n;
	}
	if (off >= sizeof(pids))
		memcpy(pids + sizeof(pids) - 4, "...", 4);
	log_info("shunt %s started, %u workers (pids %s)", PACKAGE_VERSION,
	    m->nworkers, pids);
	proc_state(m);
	return 0;
}

int
proc_run(const struct shunt_config *cfg, struct listen_set *ls)
{
	struct proc_master	 m;
	struct sig_events	 ev;
	uint64_t		 now;
	unsigned		 i;
	int			 rc = 0;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.ls = ls;
	m.nworkers = (unsigned)cfg->workers;
	if ((m.workers = calloc(m.nworkers, sizeof(*m.workers))) == NULL) {
		log_warn("cannot start workers");
		return 1;
	}
	for (i = 0; i < m.nworkers; i++) {
		m.workers[i].pid = -1;
		m.workers[i].slot = i;
	}
	if (proc_start(&m) == -1) {
		free(m.workers);
		return 1;
	}
	for (;;) {
		sig_wait(proc_sleep_ms(&m, proc_now_ms()));
		sig_take(&ev);
		now = proc_now_ms();
		if (ev.child)
			proc_reap_and_record(&m);
		if (ev.reload)
			log_warnx("reload is not implemented yet; ignoring");
		if (ev.reopen)
			proc_reopen(&m);
		if (ev.quit)
			proc_stop(&m, PROC_QUITTING, now);
		if (ev.stop)
			proc_stop(&m, PROC_STOPPING, now);
		if (m.state == PROC_RUNNING) {
			proc_respawn_due(&m, now);
			continue;
		}
		if (proc_nrunning(&m) == 0)
			break;
		if (now >= m.deadline_ms && proc_escalate(&m, now) == -1) {
			rc = 1;
			break;
		}
	}
	log_info("shunt %s exiting", PACKAGE_VERSION);
	free(m.workers);
	return rc;
}
