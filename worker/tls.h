/*
 * tls.h: TLS as a transport (io.h), to clients and to peers, on OpenSSL.
 *
 * The contexts come built from the config (master/tls_cfg.h); here each
 * connection gets its SSL object, and reads, writes and the handshake run
 * non-blocking inside the worker's loop.  After tls_client_start() or
 * tls_server_start() the io uses tls_ops: the caller drives the handshake
 * with io_handshake() until it returns 0, then reads and writes as over
 * plain TCP.  io_close() frees everything, sending close_notify when the
 * connection is still sound.
 *
 * Threads: none; each worker process has its own SSL objects and its own
 * copy of OpenSSL's error queue.
 */
#ifndef SHUNT_TLS_H
#define SHUNT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg-t.h"
#include "io.h"

struct ssl_session_st;

extern const struct io_ops tls_ops;

/*
 * What a TLS peer is called: the name sent as SNI (NULL: none) and what
 * its certificate must match, a host name or an IP address (one of the
 * two is NULL).  The name is sni when set, else the address's host: a host
 * name is sent as SNI and checked; an IP literal is not sent (RFC 6066
 * forbids it) and is checked against the certificate's IP addresses.
 */
struct tls_peer_name {
	const char	*sni;
	const char	*host;
	const char	*ip;
};

void	tls_peer_name(const struct cfg_peer *peer, struct tls_peer_name *out);

/*
 * Make io (fd set, connected or still connecting) a TLS client of peer,
 * whose context tls_cfg_client() built.  *session, when set, is offered
 * for resumption; new sessions from the server replace it there, so the
 * slot must outlive the connection.  Returns 0, or -1 (no memory) with io
 * unchanged.
 */
int	tls_client_start(struct io *io, const struct cfg_peer *peer,
	    struct ssl_session_st **session);

/* Make io, an accepted connection on TLS listener l, a TLS server. */
int	tls_server_start(struct io *io, const struct cfg_tls_listener *l);

/*
 * Why io's handshake failed, for logs and the store's failure detail:
 * "certificate verify failed: hostname mismatch", "tlsv1 alert unknown
 * ca", "Connection reset by peer", ...  Returns true when the peer spoke
 * and broke TLS, false when it merely went away (EOF, reset).
 */
bool	tls_error(const struct io *io, char *buf, size_t len);

/*
 * The text tls_error() gives for an X509 verify result, an OpenSSL error
 * code (0: none) and an errno (0: none).
 */
void	tls_reason(long verify, unsigned long err, int sys_errno, char *buf,
	    size_t len);

/* Whether io's handshake resumed a session. */
bool	tls_resumed(const struct io *io);

void	tls_session_free(struct ssl_session_st *session);

#endif /* SHUNT_TLS_H */
