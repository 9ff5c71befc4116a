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

#include "cfg.h"
#include "clock.h"
#include "listen.h"
#include "log.h"
#include "pidfile.h"
#include "privs.h"
#include "state.h"
#include "proc.h"
#include "rlimit.h"
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

/* A worker of an earlier config, finishing its requests after a reload. */
struct proc_retiring {
	pid_t		 pid;
	unsigned	 slot;
	uint64_t	 kill_ms;	/* SIGKILL then; UINT64_MAX: sent */
};

enum proc_state {
	PROC_RUNNING = 0,
	PROC_QUITTING,			/* TERM sent: graceful */
	PROC_STOPPING,			/* INT sent: fast */
	PROC_KILLING,			/* SIGKILL sent */
};

/* The master's runtime state: one per process, on proc_run()'s stack. */
struct proc_master {
	struct shunt_config		*cfg;		/* the running config */
	struct listen_set		*ls;
	struct privs			 privs;
	struct proc_pidfile		*pid;
	int				 lock;		/* state_dir's lock */
	uint64_t			 generation;	/* of cfg, 1 at start */
	struct proc_worker		*workers;	/* of this generation */
	unsigned			 nworkers;
	struct proc_retiring		*retiring;	/* of older ones */
	size_t				 nretiring;
	enum proc_state			 state;
	uint64_t			 deadline_ms;	/* of this stop phase */
};

/* Workers of every generation still running. */
static unsigned
proc_nrunning(const struct proc_master *m)
{
	unsigned	 i, n = 0;

	for (i = 0; i < m->nworkers; i++)
		if (m->workers[i].pid != -1)
			n++;
	return n + (unsigned)m->nretiring;
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
	state_workers(m->cfg, &m->privs, pids, n);
}

static void
proc_signal(pid_t pid, int signo)
{
	if (kill(pid, signo) == -1 && errno != ESRCH)
		log_warn("cannot signal worker %d", (int)pid);
}

static void
proc_signal_all(struct proc_master *m, int signo)
{
	size_t	 i;

	for (i = 0; i < m->nworkers; i++)
		if (m->workers[i].pid != -1)
			proc_signal(m->workers[i].pid, signo);
	for (i = 0; i < m->nretiring; i++)
		proc_signal(m->retiring[i].pid, signo);
}

static void __attribute__((noreturn))
proc_worker_child(struct proc_master *m, unsigned slot)
{
	size_t	 nfds;
	int	*fds, rc;

	sig_child_reset();
	/* A worker outliving its master must not keep state_dir locked. */
	state_unlock(m->lock);
	listen_keep_slot(m->ls, slot, m->nworkers);
	if ((fds = listen_worker_fds(m->ls, slot, m->nworkers, &nfds)) ==
	    NULL) {
		log_warn("worker %u", slot);
		_exit(1);
	}
	/* Before the worker opens anything: its files are the user's. */
	if (privs_drop(&m->privs) == -1) {
		log_warn("worker %u: cannot drop privileges to %s", slot,
		    m->cfg->user != NULL ? m->cfg->user : m->cfg->group);
		_exit(1);
	}
	/* _exit: the master's stdio buffers and atexit work are not ours. */
	rc = worker_main(m->cfg, fds, nfds, slot);
	free(fds);
	_exit(rc);
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
	w->started_ms = clock_mono_ms();
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
	w->respawn_ms = add_sat_u64(now, w->backoff_ms);
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

/* An old generation's worker is gone: never respawned.  -1: not one. */
static int
proc_retired(struct proc_master *m, pid_t pid, int status)
{
	char	 what[64];
	size_t	 i;

	for (i = 0; i < m->nretiring; i++)
		if (m->retiring[i].pid == pid)
			break;
	if (i == m->nretiring)
		return -1;
	proc_status_text(status, what, sizeof(what));
	log_info("old worker %d (slot %u) %s", (int)pid, m->retiring[i].slot,
	    what);
	m->retiring[i] = m->retiring[--m->nretiring];
	return 0;
}

static void
proc_reap(struct proc_master *m)
{
	uint64_t	 now = clock_mono_ms();
	pid_t		 pid;
	unsigned	 i;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < m->nworkers; i++)
			if (m->workers[i].pid == pid)
				break;
		if (i < m->nworkers) {
			proc_exited(m, &m->workers[i], status, now);
			continue;
		}
		if (proc_retired(m, pid, status) == -1)
			log_debug("reaped unknown child %d", (int)pid);
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

	if (m->state != PROC_RUNNING) {
		until = m->deadline_ms;
	} else {
		for (i = 0; i < m->nworkers; i++)
			if (m->workers[i].respawn &&
			    m->workers[i].respawn_ms < until)
				until = m->workers[i].respawn_ms;
		for (i = 0; i < m->nretiring; i++)
			if (m->retiring[i].kill_ms < until)
				until = m->retiring[i].kill_ms;
	}
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
	/*
	 * The workers close their copies as they stop accepting; once ours
	 * are closed too, a new client is refused at once instead of waiting
	 * in a queue nobody will ever accept from.
	 */
	listen_close(m->ls);
	m->ls = NULL;
	if (how == PROC_QUITTING) {
		deadline = add_sat_u64(now, add_sat_u64(proc_shutdown_ms(m->cfg),
		    PROC_STOP_MARGIN_MS));
		log_info("graceful stop: waiting up to %llums for %u workers",
		    (unsigned long long)(deadline - now), proc_nrunning(m));
		proc_signal_all(m, SIGTERM);
	} else {
		deadline = add_sat_u64(now, PROC_FAST_STOP_MS);
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
	m->deadline_ms = add_sat_u64(now, PROC_KILL_WAIT_MS);
	return 0;
}

static void
proc_reopen(struct proc_master *m)
{
	char	 err[512];

	if (m->cfg->log.error != NULL && log_open(m->cfg->log.error) == -1)
		log_warn("cannot reopen %s", m->cfg->log.error);
	else
		log_info("log files reopened");
	/* A rotated-away log is created anew here, for workers to open. */
	if (privs_own_files(&m->privs, m->cfg, err, sizeof(err)) == -1)
		log_warnx("%s", err);
	proc_signal_all(m, SIGUSR1);
}

static struct proc_worker *
proc_workers_new(unsigned n)
{
	struct proc_worker	*w;
	unsigned		 i;

	if ((w = calloc(n, sizeof(*w))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		w[i].pid = -1;
		w[i].slot = i;
	}
	return w;
}

/*
 * The running generation's workers finish their requests under the old
 * config while the new ones already accept: the listening sockets they
 * share stay open in the master, so no connection is refused meanwhile.
 */
static int
proc_retire_reserve(struct proc_master *m)
{
	struct proc_retiring	*r;
	size_t			 n = m->nretiring + m->nworkers;

	if ((r = realloc(m->retiring, (n > 0 ? n : 1) * sizeof(*r))) == NULL)
		return -1;
	m->retiring = r;
	return 0;
}

/*
 * After proc_retire_reserve(): cannot fail.  The workers are told to stop
 * by proc_reload() once their successors run.  Returns the index of the
 * first worker retired now.
 */
static size_t
proc_retire(struct proc_master *m, uint64_t now)
{
	size_t			 first = m->nretiring;
	struct proc_retiring	*r;
	uint64_t		 kill_ms;
	unsigned		 i;

	kill_ms = add_sat_u64(now, add_sat_u64(proc_shutdown_ms(m->cfg),
	    PROC_STOP_MARGIN_MS));
	for (i = 0; i < m->nworkers; i++) {
		if (m->workers[i].pid == -1)
			continue;
		r = &m->retiring[m->nretiring++];
		r->pid = m->workers[i].pid;
		r->slot = m->workers[i].slot;
		r->kill_ms = kill_ms;
	}
	return first;
}

/* Retiring workers past their shutdown_timeout get SIGKILL. */
static void
proc_retire_due(struct proc_master *m, uint64_t now)
{
	size_t	 i;

	for (i = 0; i < m->nretiring; i++) {
		if (m->retiring[i].kill_ms > now)
			continue;
		log_warnx("old worker %d (slot %u) did not finish in time; "
		    "killing it", (int)m->retiring[i].pid,
		    m->retiring[i].slot);
		proc_signal(m->retiring[i].pid, SIGKILL);
		m->retiring[i].kill_ms = UINT64_MAX;
	}
}

static void
proc_move_pidfile(struct proc_master *m, const char *want)
{
	struct proc_pidfile	*pf = m->pid;
	char			 old[PATH_MAX];

	if (!pf->follow_cfg || (want == NULL ? pf->path[0] == '\0' :
	    strcmp(want, pf->path) == 0))
		return;
	if (want != NULL && (strlen(want) >= sizeof(pf->path) ||
	    pidfile_write(want) == -1)) {
		log_warn("cannot write the new pid file %s; keeping %s", want,
		    pf->path[0] != '\0' ? pf->path : "none");
		return;
	}
	snprintf(old, sizeof(old), "%s", pf->path);
	if (old[0] != '\0' && pidfile_remove(old) == -1 && errno != ENOENT)
		log_warn("cannot remove the old pid file %s", old);
	snprintf(pf->path, sizeof(pf->path), "%s", want != NULL ? want : "");
	log_info("pid file moved from %s to %s", old[0] != '\0' ? old : "none",
	    want != NULL ? want : "none");
}

/*
 * HUP.  Everything that can fail happens before anything changes, so a bad
 * config, a port taken or a store that cannot be published leaves the
 * running generation serving exactly as before.
 */
static void
proc_reload(struct proc_master *m, uint64_t now)
{
	struct shunt_config	*cfg, *old_cfg = m->cfg;
	struct listen_set	*ls;
	struct proc_worker	*workers;
	struct cfg_error	 cerr;
	struct privs		 privs;
	char			 err[CFG_ERR_MSG_MAX + 512];
	size_t			 first, j;
	unsigned		 i;
	int			 lock = -1;
	bool			 same_dir;

	log_info("reloading %s", old_cfg->file);
	if ((cfg = cfg_load(old_cfg->file, &cerr)) == NULL) {
		cfg_error_format(&cerr, err, sizeof(err));
		log_error("reload failed, still serving the previous "
		    "configuration: %s", err);
		return;
	}
	ls = NULL;
	workers = NULL;
	if (privs_resolve(cfg, &privs, err, sizeof(err)) == -1)
		goto fail;
	if ((ls = listen_reload(m->ls, old_cfg, cfg, (unsigned)cfg->workers,
	    err, sizeof(err))) == NULL)
		goto fail;
	if ((workers = proc_workers_new((unsigned)cfg->workers)) == NULL ||
	    proc_retire_reserve(m) == -1) {
		snprintf(err, sizeof(err), "%s", strerror(errno));
		goto fail;
	}
	same_dir = strcmp(cfg->state_dir, old_cfg->state_dir) == 0;
	if (!state_lock_current(m->lock, cfg->state_dir) &&
	    state_lock(cfg->state_dir, &lock, err, sizeof(err)) == -1)
		goto fail;
	if (state_publish(cfg, &privs, m->generation + 1, same_dir, err,
	    sizeof(err)) == -1 ||
	    privs_own_files(&privs, cfg, err, sizeof(err)) == -1)
		goto fail;
	if (!same_dir)
		log_warnx("state_dir moved from %s to %s: health starts afresh "
		    "there", old_cfg->state_dir, cfg->state_dir);

	/* Committed.  From here on nothing fails back to the old config. */
	if (lock != -1) {
		state_unlock(m->lock);
		m->lock = lock;
	}
	first = proc_retire(m, now);
	listen_commit(ls, m->ls);
	listen_close(m->ls);
	m->ls = ls;
	m->privs = privs;
	m->cfg = cfg;
	m->generation++;
	log_set_level(cfg->log.level);
	proc_move_pidfile(m, cfg->pid_file);
	rlimit_files(cfg);
	if ((cfg->log.error == NULL) != (old_cfg->log.error == NULL) ||
	    (cfg->log.error != NULL &&
	    strcmp(cfg->log.error, old_cfg->log.error) != 0)) {
		if (log_open(cfg->log.error) == -1)
			log_warn("cannot open error log %s", cfg->log.error);
	}
	free(m->workers);
	m->workers = workers;
	m->nworkers = (unsigned)cfg->workers;
	for (i = 0; i < m->nworkers; i++)
		if (proc_spawn(m, &m->workers[i]) == -1) {
			proc_backoff(&m->workers[i], now);
			log_warn("cannot fork a worker for slot %u; retrying "
			    "in %llus", i, (unsigned long long)
			    (m->workers[i].backoff_ms / 1000));
		}
	for (j = first; j < m->nretiring; j++)
		proc_signal(m->retiring[j].pid, SIGTERM);
	proc_state(m);
	log_info("reloaded %s: generation %llu, %u workers; %zu old workers "
	    "finishing", cfg->file, (unsigned long long)m->generation,
	    m->nworkers, m->nretiring);
	cfg_free(old_cfg);
	return;
fail:
	log_error("reload failed, still serving the previous configuration: "
	    "%s", err);
	free(workers);
	listen_close(ls);
	state_unlock(lock);
	cfg_free(cfg);
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
proc_run(struct shunt_config **cfgp, struct listen_set **lsp,
    const struct privs *privs, struct proc_pidfile *pid, int *lock)
{
	struct proc_master	 m;
	struct sig_events	 ev;
	uint64_t		 now;
	int			 rc = 0;

	memset(&m, 0, sizeof(m));
	m.cfg = *cfgp;
	m.ls = *lsp;
	m.privs = *privs;
	m.pid = pid;
	m.lock = *lock;
	m.generation = 1;
	m.nworkers = (unsigned)m.cfg->workers;
	if ((m.workers = proc_workers_new(m.nworkers)) == NULL) {
		log_warn("cannot start workers");
		return 1;
	}
	if (proc_start(&m) == -1) {
		free(m.workers);
		return 1;
	}
	for (;;) {
		sig_wait(proc_sleep_ms(&m, clock_mono_ms()));
		sig_take(&ev);
		now = clock_mono_ms();
		if (ev.child)
			proc_reap_and_record(&m);
		if (ev.quit)
			proc_stop(&m, PROC_QUITTING, now);
		if (ev.stop)
			proc_stop(&m, PROC_STOPPING, now);
		if (ev.reload && m.state == PROC_RUNNING)
			proc_reload(&m, now);
		if (ev.reopen)
			proc_reopen(&m);
		if (m.state == PROC_RUNNING) {
			proc_respawn_due(&m, now);
			proc_retire_due(&m, now);
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
	free(m.retiring);
	*cfgp = m.cfg;
	*lsp = m.ls;
	*lock = m.lock;
	return rc;
}
