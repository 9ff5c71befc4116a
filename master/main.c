/*
 * main.c: the shunt command line (DESIGN.md §2).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "log.h"

#ifndef SHUNT_CONFIG_FILE
#define SHUNT_CONFIG_FILE "/etc/shunt/shunt.json"
#endif

static const char *const signal_names[] = {
	"reload", "stop", "quit", "reopen", NULL
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: shunt [-c FILE] [-t] [-f] [-p PIDFILE] "
	    "[-s reload|stop|quit|reopen] [-V] [-h]\n"
	    "  -c FILE   config (default: %s)\n"
	    "  -t        validate the config, print \"FILE: ok\" or the first "
	    "error, exit 0/1\n"
	    "  -f        stay in the foreground\n"
	    "  -p FILE   pid file (overrides pid_file in the config)\n"
	    "  -s SIG    signal the running master: stop (fast), quit "
	    "(graceful),\n"
	    "            reload, reopen (log files)\n"
	    "  -V        print the version and exit\n"
	    "  -h        print this help and exit\n", SHUNT_CONFIG_FILE);
}

int
main(int argc, char *argv[])
{
	struct shunt_config	*cfg;
	struct cfg_error	 err;
	const char		*file = SHUNT_CONFIG_FILE, *sig = NULL;
	char			 msg[CFG_ERR_MSG_MAX + 512];
	int			 ch, test_only = 0, i;

	log_init("shunt", CFG_LOG_INFO);
	while ((ch = getopt(argc, argv, "c:tfp:s:Vh")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 't':
			test_only = 1;
			break;
		case 'f':
		case 'p':
			break;
		case 's':
			for (i = 0; signal_names[i] != NULL; i++)
				if (strcmp(signal_names[i], optarg) == 0)
					break;
			if (signal_names[i] == NULL) {
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

	if ((cfg = cfg_load(file, &err)) == NULL) {
		cfg_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "%s\n", msg);
		return 1;
	}
	if (test_only) {
		printf("%s: ok\n", file);
		cfg_free(cfg);
		return 0;
	}
	cfg_free(cfg);
	fprintf(stderr, "shunt: %s: this build only validates configurations "
	    "(shunt -t); the proxy is not implemented yet\n",
	    sig != NULL ? "-s" : "serving");
	return 1;
}
