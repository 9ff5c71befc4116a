/*
 * ctl_events.c: shuntctl events, the latest transitions of the store's
 * ring as JSON lines, newest last.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static json_t *
ctl_event_json(const struct store_event *ev)
{
	char	 at[CTL_TIME_MAX];

	return json_pack("{s:s, s:I, s:o, s:o, s:s, s:s, s:o, s:i, s:I, s:b, "
	    "s:b, s:b}",
	    "at", ctl_time(ev->at_ms, at),
	    "seq", (json_int_t)(ev->seq > INT64_MAX ? INT64_MAX : ev->seq),
	    "pool", ctl_json_str(ev->pool, sizeof(ev->pool)),
	    "peer", ctl_json_str(ev->addr, sizeof(ev->addr)),
	    "from", ctl_code_name(ev->from),
	    "to", ctl_code_name(ev->to),
	    "cause", ev->cause == FAIL_NONE ? json_null() :
	    json_string(failure_name(ev->cause)),
	    "pid", (int)ev->pid,
	    "consecutive_failures", (json_int_t)ev->consecutive_failures,
	    "admin", health_event_is_admin(ev),
	    /* from/to keep the states shown; suspicion comes beside them. */
	    "was_suspect", (ev->flags & STORE_EVENT_WAS_SUSPECT) != 0,
	    "suspect", (ev->flags & STORE_EVENT_SUSPECT) != 0);
}

int
ctl_events(const struct ctl_args *a)
{
	struct store		*s;
	struct store_event	*evs = NULL;
	json_t			*j;
	size_t			 i, n = 0;
	int			 rc;

	if ((s = ctl_store_open(a, STORE_RDONLY)) == NULL)
		return 1;
	if ((rc = store_read_events(s, a->events_n, &evs, &n)) != 0) {
		fprintf(stderr, "shuntctl: cannot read the events in the "
		    "health store at %s: %s\n", a->store, store_strerror(rc));
		store_close(s);
		return 1;
	}
	store_close(s);
	for (i = 0; i < n; i++) {
		if ((j = ctl_event_json(&evs[i])) == NULL) {
			fprintf(stderr, "shuntctl: cannot format event %zu: "
			    "%s\n", i, strerror(ENOMEM));
			free(evs);
			return 1;
		}
		rc = ctl_json_print(j, false);
		json_decref(j);
		if (rc == -1) {
			free(evs);
			return 1;
		}
	}
	free(evs);
	return 0;
}
