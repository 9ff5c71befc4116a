/*
 * cfg.h: loading and validating the JSON configuration (DESIGN.md §3).
 */
#ifndef SHUNT_CFG_H
#define SHUNT_CFG_H

#include <stddef.h>

#include "cfg-t.h"

/*
 * Read, parse and validate FILE.  Returns a config the caller frees with
 * cfg_free(), or NULL with *err filled: the file, line:column where known
 * (for semantic errors as well as syntax errors) and a message.
 */
struct shunt_config *cfg_load(const char *file, struct cfg_error *err);

/*
 * cfg_load() leaving out what flags say.  CFG_LOAD_NO_TLS: TLS files are
 * neither read nor checked and no TLS context is built (ssl_ctx stays
 * NULL), for tools that only need names and paths: shuntctl runs as a
 * member of the workers' group, which may not read the private keys.
 */
#define CFG_LOAD_NO_TLS		0x01u
struct shunt_config *cfg_load_opts(const char *file, unsigned flags,
	    struct cfg_error *err);

/*
 * The same from memory.  name is used in errors and as the file name;
 * relative paths in the config resolve against basedir (NULL: ".").
 */
struct shunt_config *cfg_load_buffer(const char *text, size_t len,
	    const char *name, const char *basedir, struct cfg_error *err);

void	cfg_free(struct shunt_config *cfg);

/* "file:line:column: message" (position parts omitted when unknown). */
void	cfg_error_format(const struct cfg_error *err, char *buf, size_t len);

/*
 * The largest value of one limit (its offset in struct cfg_limits) over
 * the global limits and every listener's own.
 */
uint64_t cfg_limit_max(const struct shunt_config *cfg, size_t offset);

/* Names as they appear in the config, e.g. "round_robin", "info". */
const char *cfg_balance_name(enum cfg_balance balance);
const char *cfg_log_level_name(enum cfg_log_level level);

/* The pool called name, or NULL. */
struct cfg_pool *cfg_pool_find(const struct shunt_config *cfg,
	    const char *name);

#endif /* SHUNT_CFG_H */
