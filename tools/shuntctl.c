/*
 * shuntctl.c: ask shunt which peer is down and why, and steer peers
 * (DESIGN.md §2, §5).
 *
 * shuntctl reads the health store in state_dir directly, with no round
 * trip through the master, so it answers while shunt is stopped too.  It
 * finds the store through -S STATE_DIR or the config's state_dir (-c, or
 * the compiled-in default config).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "ctl.h"

#ifndef SHUNT_CONFIG_FILE
#define SHUNT_CONFIG_FILE "/etc/shunt/shunt.json"
#endif

/* The LMDB data file of the health store inside state_dir. */
#define CTL_STORE_FILE	"data.mdb"

struct ctl_command {
	const char	*name;
	int		 min_args, max_args;
	const char	*args;
	int		 (*run)(const struct ctl_args *);
};

static const struct ctl_command ctl_commands[] = {
	{ "status", 0, 1, "[POOL] [--pretty | --table]", ctl_status },
	{ "drain", 2, 2, "POOL ADDR", ctl_drain },
	{ "enable", 2, 2, "POOL ADDR", ctl_enable },
	{ "disable", 2, 2, "POOL ADDR", ctl_disable },
	{ "reset", 2, 2, "POOL ADDR", ctl_reset },
	{ "metrics", 0, 0, "", ctl_metrics },
	{ "events", 0, 0, "[-n N]", ctl_events },
	{ NULL, 0, 0, NULL, NULL }
};

/* The latest events shown without -n. */
#define CTL_EVENTS_DEFAULT	20

static void
ctl_usage(FILE *out)
{
	const struct ctl_command	*c;

	fprintf(out, "usage: shuntctl [-c FILE | -S STATE_DIR] COMMAND\n");
	for (c = ctl_commands; c->name != NULL; c++)
		fprintf(out, "  %s %s\n", c->name, c->args);
	fprintf(out, "  -c FILE        find the store through this config "
	    "(default: %s)\n  -S STATE_DIR   the store's directory\n",
	    SHUNT_CONFIG_FILE);
}

/*
 * With a config at hand, a pool or peer that is not in it is a mistake
 * to report now, before touching the store.
 */
static int
ctl_check_names(const struct shunt_config *cfg, const char *pool_name,
    const char *addr)
{
	const struct cfg_pool	*pool;
	size_t			 i;

	if ((pool = cfg_pool_find(cfg, pool_name)) == NULL) {
		fprintf(stderr, "shuntctl: no pool \"%s\" in %s\n", pool_name,
		    cfg->file);
		return -1;
	}
	if (addr == NULL)
		return 0;
	for (i = 0; i < pool->npeers; i++)
		if (strcmp(pool->peers[i].addr.text, addr) == 0)
			return 0;
	fprintf(stderr, "shuntctl: pool \"%s\" in %s has no peer \"%s\"\n",
	    pool_name, cfg->file, addr);
	return -1;
}

/*
 * The command's own arguments, argv[optind + 1 ...], into *a.  Returns 0,
 * or 2 after printing the command's usage.
 */
static int
ctl_parse_args(const struct ctl_command *cmd, int argc, char *argv[],
    struct ctl_args *a)
{
	const char	*pos[2];
	int		 i, nargs;

	memset(a, 0, sizeof(*a));
	a->events_n = CTL_EVENTS_DEFAULT;
	nargs = argc - optind - 1;
	if (strcmp(cmd->name, "events") == 0 && nargs == 2 &&
	    strcmp(argv[optind + 1], "-n") == 0 &&
	    strspn(argv[optind + 2], "0123456789") ==
	    strlen(argv[optind + 2]) && argv[optind + 2][0] != '\0') {
		errno = 0;
		a->events_n = strtoull(argv[optind + 2], NULL, 10);
		if (errno == ERANGE)
			a->events_n = SIZE_MAX;
		nargs = 0;
	}
	/* status's options may come before or after POOL. */
	if (strcmp(cmd->name, "status") == 0) {
		nargs = 0;
		for (i = optind + 1; i < argc; i++) {
			if (strcmp(argv[i], "--pretty") == 0)
				a->pretty = true;
			else if (strcmp(argv[i], "--table") == 0)
				a->table = true;
			else if (argv[i][0] == '-' || nargs == cmd->max_args) {
				nargs = -1;
				break;
			} else
				pos[nargs++] = argv[i];
		}
		if (a->pretty && a->table)
			nargs = -1;
	} else
		for (i = 0; i < nargs && i < 2; i++)
			pos[i] = argv[optind + 1 + i];
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		fprintf(stderr, "usage: shuntctl %s %s\n", cmd->name,
		    cmd->args);
		return 2;
	}
	if (nargs >= 1)
		a->pool = pos[0];
	if (nargs == 2)
		a->addr = pos[1];
	return 0;
}

int
main(int argc, char *argv[])
{
	const struct ctl_command	*cmd;
	struct shunt_config		*cfg = NULL;
	struct cfg_error		 err;
	struct stat			 st;
	struct ctl_args			 a;
	const char			*file = SHUNT_CONFIG_FILE, *dir = NULL;
	char				 msg[CFG_ERR_MSG_MAX + 512];
	char				 store[PATH_MAX];
	int				 ch, rc = 1;
	bool				 file_given = false;

	while ((ch = getopt(argc, argv, "+c:S:h")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			file_given = true;
			break;
		case 'S':
			dir = optarg;
			break;
		case 'h':
			ctl_usage(stdout);
			return 0;
		default:
			ctl_usage(stderr);
			return 2;
		}
	}
	if (file_given && dir != NULL) {
		fprintf(stderr, "shuntctl: -c and -S exclude each other\n");
		return 2;
	}
	if (optind == argc) {
		ctl_usage(stderr);
		return 2;
	}
	for (cmd = ctl_commands; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, argv[optind]) == 0)
			break;
	if (cmd->name == NULL) {
		fprintf(stderr, "shuntctl: unknown command \"%s\"\n",
		    argv[optind]);
		ctl_usage(stderr);
		return 2;
	}
	if (ctl_parse_args(cmd, argc, argv, &a) != 0)
		return 2;

	if (dir == NULL) {
		if ((cfg = cfg_load_opts(file, CFG_LOAD_NO_TLS, &err)) == NULL) {
			cfg_error_format(&err, msg, sizeof(msg));
			fprintf(stderr, "shuntctl: %s\n", msg);
			return 1;
		}
		dir = cfg->state_dir;
		if (a.pool != NULL && ctl_check_names(cfg, a.pool, a.addr) == -1)
			goto out;
	}
	snprintf(store, sizeof(store), "%s/%s", dir, CTL_STORE_FILE);
	if (stat(store, &st) == -1) {
		fprintf(stderr, "shuntctl: no health store at %s: %s\n", store,
		    strerror(errno));
		goto out;
	}
	a.dir = dir;
	a.store = store;
	rc = cmd->run(&a);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "shuntctl: cannot write to stdout: %s\n",
		    strerror(errno));
		rc = 1;
	}
out:
	cfg_free(cfg);
	return rc;
}
