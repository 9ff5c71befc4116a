/*
 * state.h: the master's use of the health store.
 *
 * The master opens the store only for a moment each time and never holds
 * it across fork() (DEPENDENCIES.md): to create and publish it before the
 * workers start, and after workers come and go, to record their pids and
 * clear the reader slots dead workers left behind (mdb_reader_check).
 */
#ifndef SHUNT_STATE_H
#define SHUNT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg-t.h"

/*
 * Create state_dir and the store if missing, then publish the config's
 * pools and peers: existing peers keep their health, removed ones go.
 * A corrupt store is recreated with a warning.  Returns 0, or -1 with a
 * message in err.
 *
 * live: workers have the store open (a reload into the same state_dir).
 * Then a store LMDB refuses is an error rather than moved aside, since
 * the running workers would stay on the file that was moved.
 */
int	state_publish(const struct shunt_config *cfg, uint64_t generation,
	    bool live, char *err, size_t errlen);

/* Record the workers' pids (0: slot empty) and clear dead readers. */
void	state_workers(const struct shunt_config *cfg, const int32_t *pids,
	    unsigned n);

#endif /* SHUNT_STATE_H */
