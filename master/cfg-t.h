/*
 * cfg-t.h: the parsed shunt configuration.
 *
 * One immutable tree, built by cfg_load() and never changed afterwards:
 * workers inherit it by fork, a reload builds a new one beside the old.
 * Every default is filled in, every duration is in milliseconds, every size
 * in bytes, every address resolved to a sockaddr, every TLS certificate and
 * key loaded into an OpenSSL context.  Runtime state lives elsewhere and
 * points into this tree.
 */
#ifndef SHUNT_CFG_T_H
#define SHUNT_CFG_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "log-t.h"

#define CFG_ERR_MSG_MAX 512

/* OpenSSL's SSL_CTX, kept opaque here: only tls_cfg.c and tls.c see it. */
struct ssl_ctx_st;

/*
 * Filled by the loader instead of logging, so that `shunt -t`, start and
 * reload present the same error.  line/column are 1-based, 0 when unknown.
 */
struct cfg_error {
	char	 file[256];
	int	 line;
	int	 column;
	char	 msg[CFG_ERR_MSG_MAX];
};

enum cfg_balance {
	CFG_BALANCE_ROUND_ROBIN = 0,	/* smooth weighted round robin */
	CFG_BALANCE_LEAST_CONN,
};

/* A resolved "host:port". */
struct cfg_addr {
	char			*text;		/* as written in the config */
	char			*host;		/* without brackets */
	uint16_t		 port;
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
};

struct cfg_limits {
	uint64_t	 header_timeout_ms;
	uint64_t	 body_timeout_ms;
	uint64_t	 keepalive_timeout_ms;
	uint64_t	 shutdown_timeout_ms;
	uint64_t	 max_header_size;
	uint64_t	 max_headers;
	uint64_t	 max_body_size;
	uint64_t	 max_connections;
};

/* Upstream timeouts: set on the pool, optionally overridden per peer. */
struct cfg_timeouts {
	uint64_t	 connect_ms;
	uint64_t	 read_ms;
	uint64_t	 send_ms;
};

struct cfg_retry {
	uint64_t	 tries;		/* >= 1; the first try counts */
	bool		 non_idempotent;
	uint64_t	 buffer;	/* largest request body kept for replay */
	uint64_t	 deadline_ms;	/* 0: no deadline */
};

struct cfg_health {
	uint64_t	 max_fails;
	uint64_t	 fail_timeout_ms;
};

/* Per-worker idle connections kept to each peer. */
struct cfg_keepalive {
	uint64_t	 max_idle;	/* 0: no upstream keep-alive */
	uint64_t	 idle_timeout_ms;
};

struct cfg_peer {
	struct cfg_addr		 addr;
	uint64_t		 weight;
	bool			 backup;
	bool			 tls;
	bool			 verify;
	char			*sni;		/* NULL: the address's host */
	char			*ca_file;	/* NULL: the system store */
	struct ssl_ctx_st	*ssl_ctx;	/* tls: shared by like peers */
	struct cfg_timeouts	 timeouts;
	size_t			 index;		/* position in its pool */
	struct cfg_pool		*pool;
};

struct cfg_pool {
	char			*name;
	enum cfg_balance	 balance;
	struct cfg_timeouts	 timeouts;
	struct cfg_retry	 retry;
	struct cfg_health	 health;
	struct cfg_keepalive	 keepalive;
	struct cfg_peer		*peers;
	size_t			 npeers;
	size_t			 index;		/* position in the config */
};

struct cfg_route {
	char			*host;		/* NULL: any; lower case, no port */
	char			*path_prefix;	/* NULL: any */
	char			*pool_name;
	struct cfg_pool		*pool;
};

struct cfg_tls_listener {
	char			*cert;
	char			*key;
	char			*chain;		/* NULL: none */
	struct ssl_ctx_st	*ssl_ctx;	/* built at load (tls_cfg.h) */
};

struct cfg_listener {
	struct cfg_addr		 addr;
	char			*pool_name;
	struct cfg_pool		*pool;
	struct cfg_route	*routes;
	size_t			 nroutes;
	struct cfg_tls_listener	*tls;		/* NULL: plain HTTP */
	struct cfg_limits	 limits;	/* the global ones unless overridden */
};

struct cfg_log {
	char			*error;		/* NULL: stderr */
	char			*access;	/* NULL: no access log */
	enum cfg_log_level	 level;
};

struct shunt_config {
	char			*file;
	uint64_t		 workers;
	char			*user;		/* NULL: do not change */
	char			*group;
	char			*pid_file;	/* NULL: no pid file */
	char			*state_dir;
	struct cfg_log		 log;
	struct cfg_limits	 limits;
	struct cfg_listener	*listeners;
	size_t			 nlisteners;
	struct cfg_pool		*pools;
	size_t			 npools;
	struct cfg_mem		*mem;		/* owns everything above */
};

#endif /* SHUNT_CFG_T_H */
