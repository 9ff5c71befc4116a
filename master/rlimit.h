/*
 * rlimit.h: enough file descriptors for the configured connections.
 */
#ifndef SHUNT_RLIMIT_H
#define SHUNT_RLIMIT_H

#include "cfg-t.h"

/*
 * Raise RLIMIT_NOFILE (inherited by the workers) so that every worker can
 * hold max_connections client connections, one upstream connection each,
 * and its idle pools: the soft limit up to the hard one, and the hard one
 * too when running as root.  Logs a warning when the limit stays short;
 * never fails.  Called at start and on every reload.
 */
void	rlimit_files(const struct shunt_config *cfg);

#endif /* SHUNT_RLIMIT_H */
