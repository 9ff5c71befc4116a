/*
 * main.c: the shunt command line (DESIGN.md §2).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "daemon.h"
#include "listen.h"
#include "log.h"
#include "state.h"
#include "pidfile.h"
#include "privs.h"
#include "proc.h"
#include "rlimit.h"
#include "sig.h"

#ifndef SHUNT_CONFIG_FILE
#define SHUNT_CONFIG_FILE "/etc/shunt/shunt.json"
#endif

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: shunt [-c FILE] [-t] [-f] [-p PIDFILE] [-P] "
	    "[-s reload|stop|quit|reopen] [-V] [-h]\n"
	    "  -c FILE   config (default: %s)\n"
	    "  -t        validate the config, print \"FILE: ok\" or the first "
	    "error, exit 0/1\n"
	    "  -f        stay in the foreground (systemd, containers); "
	    "without -f\n"
	    "            shunt detaches once it is listening\n"
	    "  -p FILE   pid file (overrides pid_file in the config)\n"
	    "  -P        print the pid file shunt would use and exit "
	    "(1: none)\n"
	    "  -s SIG    signal the running master: stop (fast), quit "
	    "(graceful),\n"
	    "            reload, reopen (log files)\n"
	    "  -V        print the version and exit\n"
	    "  -h        print this help and exit\n", SHUNT_CONFIG_FILE);
}

static struct shunt_config *
load(const char *file)
{
	struct shunt_config	*cfg;
	struct cfg_error	 err;
	char			 msg[CFG_ERR_MSG_MAX + 512];

	if ((cfg = cfg_load(file, &err)) == NULL) {
		cfg_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "%s\n", msg);
	}
	return cfg;
}

/*
 * shunt -s: with -p the config is not read at all, so that a running
 * master can be stopped even after its config file was broken.
 */
static int
send_signal(const char *file, const char *pidfile, const char *name)
{
	struct shunt_config	*cfg = NULL;
	pid_t			 pid;
	int			 rc = 1;

	if (pidfile == NULL) {
		if ((cfg = load(file)) == NULL)
			return 1;
		if ((pidfile = cfg->pid_file) == NULL) {
			fprintf(stderr, "shunt: -s %s: no pid file: %s sets no "
			    "pid_file and -p was not given\n", name, file);
			goto done;
		}
	}
	if ((pid = pidfile_read(pidfile)) == -1) {
		if (errno == EINVAL)
			fprintf(stderr, "shunt: pid file %s does not hold a "
			    "pid\n", pidfile);
		else
			fprintf(stderr, "shunt: cannot read pid file %s: %s\n",
			    pidfile, strerror(errno));
		goto done;
	}
	if (kill(pid, sig_by_name(name)) == -1) {
		fprintf(stderr, "shunt: cannot signal pid %d (%s): %s\n",
		    (int)pid, pidfile, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	cfg_free(cfg);
	return rc;
}

/*
 * Everything that can fail for a reason the operator must fix happens
 * here, before the daemon detaches, and is reported on stderr with exit
 * status 1.
 */
static int
serve(struct shunt_config *cfg, const char *pidfile_arg, bool pid_from_cfg,
    bool foreground)
{
	struct listen_set	*ls = NULL;
	struct privs		 privs;
	struct proc_pidfile	 pf;
	char			 err[512];
	const char		*pidfile = NULL;
	pid_t			 holder;
	int			 ready = -1, rc = 1, lock = -1;

	/* Our own copy: a reload frees the config the path points into. */
	memset(&pf, 0, sizeof(pf));
	pf.follow_cfg = pid_from_cfg;
	if (pidfile_arg != NULL) {
		if ((size_t)snprintf(pf.path, sizeof(pf.path), "%s",
		    pidfile_arg) >= sizeof(pf.path)) {
			fprintf(stderr, "shunt: pid file path too long\n");
			goto done;
		}
		pidfile = pf.path;
	}
	log_set_level(cfg->log.level);
	if (pidfile != NULL && pidfile_check(pidfile, &holder) == -1) {
		fprintf(stderr, "shunt: already running as pid %d (%s)\n",
		    (int)holder, pidfile);
		goto done;
	}
	if (privs_resolve(cfg, &privs, err, sizeof(err)) == -1) {
		fprintf(stderr, "shunt: %s\n", err);
		goto done;
	}
	if ((ls = listen_open(cfg, (unsigned)cfg->workers, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "shunt: %s\n", err);
		goto done;
	}
	/* Before the store is touched: a second master would prune ours. */
	if (state_lock(cfg->state_dir, &lock, err, sizeof(err)) == -1) {
		fprintf(stderr, "shunt: %s\n", err);
		goto done;
	}
	/* Before any fork: the master must not hold the store across it. */
	if (state_publish(cfg, &privs, 1, false, err, sizeof(err)) == -1 ||
	    privs_own_files(&privs, cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "shunt: %s\n", err);
		goto done;
	}
	if (cfg->log.error != NULL && log_open(cfg->log.error) == -1) {
		fprintf(stderr, "shunt: cannot open error log %s: %s\n",
		    cfg->log.error, strerror(errno));
		goto done;
	}
	rlimit_files(cfg);
	if (!foreground && (ready = daemon_detach()) == -1) {
		fprintf(stderr, "shunt: cannot detach: %s\n", strerror(errno));
		goto done;
	}
	/* The lock came along through the forks; the pid in it did not. */
	if (ready != -1)
		state_lock_note_pid(lock);
	/* Before the pid file: a -s that finds it must find us listening. */
	if (sig_master_init() == -1) {
		fprintf(stderr, "shunt: cannot set up signals: %s\n",
		    strerror(errno));
		goto done;
	}
	/* Written by the daemon itself: it is the pid to signal. */
	if (pidfile != NULL && pidfile_write(pidfile) == -1) {
		fprintf(stderr, "shunt: cannot write pid file %s: %s\n",
		    pidfile, strerror(errno));
		goto done;
	}
	if (ready != -1) {
		if (cfg->log.error == NULL)
			log_use_syslog();
		daemon_ready(ready);
	}
	rc = proc_run(&cfg, &ls, &privs, &pf, &lock);
	if (pf.path[0] != '\0' && pidfile_remove(pf.path) == -1 &&
	    errno != ENOENT)
		log_warn("cannot remove pid file %s", pf.path);
done:
	listen_close(ls);
	state_unlock(lock);
	cfg_free(cfg);
	return rc;
}

/*
 * A daemon runs in "/" and re-reads its config on HUP: a relative -c must
 * name the same file from there, and paths in it resolve against it.
 */
static const char *
absolute_path(const char *file, char *buf, size_t len)
{
	char	 cwd[PATH_MAX];

	if (file[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return file;
	if ((size_t)snprintf(buf, len, "%s/%s", cwd, file) >= len)
		return file;
	return buf;
}

int
main(int argc, char *argv[])
{
	struct shunt_config	*cfg;
	const char		*file = SHUNT_CONFIG_FILE, *sig = NULL;
	const char		*pidfile = NULL;
	char			 abspath[PATH_MAX], abspid[PATH_MAX];
	int			 ch, test_only = 0, print_pid = 0, rc;
	bool			 foreground = false;

	log_init("shunt", CFG_LOG_INFO);
	while ((ch = getopt(argc, argv, "c:tfp:Ps:Vh")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 't':
			test_only = 1;
			break;
		case 'f':
			foreground = true;
			break;
		case 'P':
			print_pid = 1;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 's':
			if (sig_by_name(optarg) == -1) {
				fprintf(stderr, "shunt: unknown signal \"%s\": "
				    "use reload, stop, quit or reopen\n",
				    optarg);
				return 2;
			}
			sig = optarg;
			break;
		case 'V':
			printf("shunt %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "shunt: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(stderr);
		return 2;
	}

	if (sig != NULL && !test_only)
		return send_signal(file, pidfile, sig);
	if (print_pid && !test_only && pidfile != NULL) {
		printf("%s\n", pidfile);
		return 0;
	}
	if ((cfg = load(test_only ? file :
	    absolute_path(file, abspath, sizeof(abspath)))) == NULL)
		return 1;
	if (test_only) {
		printf("%s: ok\n", file);
		cfg_free(cfg);
		return 0;
	}
	if (print_pid) {
		rc = cfg->pid_file != NULL ? 0 : 1;
		if (cfg->pid_file != NULL)
			printf("%s\n", cfg->pid_file);
		cfg_free(cfg);
		return rc;
	}
	if (pidfile != NULL)
		pidfile = absolute_path(pidfile, abspid, sizeof(abspid));
	return serve(cfg, pidfile != NULL ? pidfile : cfg->pid_file,
	    pidfile == NULL, foreground);
}
