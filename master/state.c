/*
 * state.c: the master's short visits to the health store.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "state.h"
#include "store.h"

int
state_publish(const struct shunt_config *cfg, uint64_t generation,
    bool live, char *err, size_t errlen)
{
	struct store	*s;
	int		 rc, dead = 0;

	rc = store_open(&s, cfg->state_dir, live ? 0 : STORE_CREATE);
	if (rc == STORE_RECREATED) {
		log_warnx("health store in %s was unreadable: moved aside and "
		    "recreated; every peer starts up", cfg->state_dir);
		rc = 0;
	}
	if (rc != 0) {
		snprintf(err, errlen, "cannot open the health store in %s: %s",
		    cfg->state_dir, store_strerror(rc));
		return -1;
	}
	/* Readers of a previous master's workers that died with it. */
	(void)store_reader_check(s, &dead);
	rc = store_publish(s, cfg, generation, (int32_t)getpid());
	store_close(s);
	if (rc != 0) {
		snprintf(err, errlen, "cannot publish to the health store in "
		    "%s: %s", cfg->state_dir, store_strerror(rc));
		return -1;
	}
	return 0;
}

void
state_workers(const struct shunt_config *cfg, const int32_t *pids,
    unsigned n)
{
	struct store	*s;
	int		 rc, dead = 0;

	if ((rc = store_open(&s, cfg->state_dir, 0)) != 0) {
		log_warnx("health store in %s: %s", cfg->state_dir,
		    store_strerror(rc));
		return;
	}
	if ((rc = store_reader_check(s, &dead)) != 0)
		log_warnx("health store reader check: %s", store_strerror(rc));
	else if (dead > 0)
		log_info("health store: cleared %d reader slots of dead "
		    "workers", dead);
	if ((rc = store_set_workers(s, pids, n)) != 0)
		log_warnx("health store: cannot record worker pids: %s",
		    store_strerror(rc));
	store_close(s);
}
