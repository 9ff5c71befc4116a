/*
 * tls_cfg.h: the OpenSSL contexts of a configuration.
 *
 * The master builds every SSL_CTX while it loads a config (cfg.c calls
 * these), so `shunt -t`, start and reload all find a bad certificate or
 * key before anything serves; workers inherit the contexts by fork and
 * only create per-connection SSL objects (worker/tls.h).  A context is
 * owned by the config holding it and freed by cfg_free().
 *
 * Policy, both ways: TLS 1.2 and newer, no renegotiation, no compression,
 * ALPN "http/1.1".  A listener offers the ciphers of TLS_CFG_CIPHERS for
 * TLS 1.2 (forward-secret AEAD only) and OpenSSL's defaults for TLS 1.3.
 * An end of stream without close_notify reads as an end of stream: HTTP
 * framing, not TLS, tells a cut-short message, as for plain TCP.
 *
 * Client contexts keep no session cache of their own: the SSL's app data
 * (SSL_set_app_data) may point at an `SSL_SESSION *` slot, and every new
 * session the server hands out replaces the one in that slot, which the
 * next connection to the same peer offers (worker/tls.c).
 */
#ifndef SHUNT_TLS_CFG_H
#define SHUNT_TLS_CFG_H

#include <stddef.h>

#include "cfg-t.h"

/* TLS 1.2 ciphers of listeners (OpenSSL cipher-list syntax). */
#define TLS_CFG_CIPHERS \
	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL"

/* Which file of a listener's "tls" object an error is about. */
enum tls_cfg_file {
	TLS_CFG_CERT = 0,
	TLS_CFG_KEY,
	TLS_CFG_CHAIN,
};

/*
 * The server context of a TLS listener: its certificate (the file may
 * carry intermediates after it), the optional chain file's certificates,
 * the private key, checked to match.  Returns the context, or NULL with
 * *bad the file at fault and why[] a message naming it, e.g.
 * `key file "/etc/shunt/site.key" does not match the certificate in
 * "/etc/shunt/site.pem"`.  Encrypted keys are refused, never prompted for.
 */
struct ssl_ctx_st *tls_cfg_server(const struct cfg_tls_listener *l,
	    enum tls_cfg_file *bad, char *why, size_t len);

/*
 * The client context for TLS peers like peer: verification on or off
 * (peer->verify), against peer->ca_file or, when it is NULL, the system's
 * trust store.  The name checked and sent as SNI is set per connection.
 * Returns the context, or NULL with why[] set (a ca_file without a usable
 * certificate, no memory).
 */
struct ssl_ctx_st *tls_cfg_client(const struct cfg_peer *peer, char *why,
	    size_t len);

/* Whether peers a and b can share one client context. */
int	tls_cfg_client_alike(const struct cfg_peer *a, const struct cfg_peer *b);

/* One more owner for ctx; every owner calls tls_cfg_free() once. */
void	tls_cfg_ref(struct ssl_ctx_st *ctx);
void	tls_cfg_free(struct ssl_ctx_st *ctx);

#endif /* SHUNT_TLS_CFG_H */
