/*
 * tls.c: the TLS transport.
 *
 * Reads and writes loop until the socket would block or the caller's
 * buffer is full or empty, so a short count still means "wait for the
 * next edge" as it does over plain TCP (io.h): one SSL_read returns at most
 * one record.  The contexts read ahead (one read(2) takes every record
 * there is, not a header and then a body); a read stops early when OpenSSL
 * holds nothing more and its last read(2) was short, and what OpenSSL
 * still holds when the caller's buffer is full is announced with
 * io.buffered.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "loop.h"
#include "tls.h"

struct tls {
	SSL		 *ssl;
	SSL_SESSION	**slot;		/* client: the peer's last session */
	/* why the handshake failed */
	long		  verify;
	unsigned long	  err;
	int		  sys_errno;
	int		  fail_errno;	/* what every later call reports */
	bool		  eof;		/* met after data: the next read's */
	bool		  drained;	/* the last read(2) came back short */
	bool		  established;
	bool		  failed;	/* fatal: no close_notify, no reuse */
	bool		  shut;		/* close_notify sent */
	bool		  offered;	/* a session was offered */
};

static int
tls_len(size_t len)
{
	return len > INT_MAX ? INT_MAX : (int)len;
}

void
tls_peer_name(const struct cfg_peer *peer, struct tls_peer_name *out)
{
	unsigned char	 a[sizeof(struct in6_addr)];
	const char	*name = peer->sni != NULL ? peer->sni : peer->addr.host;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, name, a) == 1 ||
	    inet_pton(AF_INET6, name, a) == 1) {
		out->ip = name;
		return;
	}
	out->sni = out->host = name;
}

/*
 * Watches the socket BIO's reads: one that returns less than OpenSSL asked
 * for (it reads ahead, so it asks for a buffer's worth) found the kernel's
 * queue empty, as a short read(2) does on the plain path.
 */
static long
tls_bio_watch(BIO *b, int oper, const char *argp, size_t len, int argi,
    long argl, int ret, size_t *processed)
{
	struct tls	*t = (struct tls *)BIO_get_callback_arg(b);

	(void)argp;
	(void)argi;
	(void)argl;
	if (oper == (BIO_CB_READ | BIO_CB_RETURN) && t != NULL)
		t->drained = ret <= 0 || processed == NULL || *processed < len;
	return ret;
}

static struct tls *
tls_new(struct io *io, SSL_CTX *ctx)
{
	struct tls	*t;
	BIO		*bio;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	ERR_clear_error();
	if ((t->ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(t->ssl, io->fd) != 1 ||
	    (bio = SSL_get_rbio(t->ssl)) == NULL) {
		ERR_clear_error();
		SSL_free(t->ssl);
		free(t);
		return NULL;
	}
	BIO_set_callback_ex(bio, tls_bio_watch);
	BIO_set_callback_arg(bio, (char *)t);
	return t;
}

int
tls_client_start(struct io *io, const struct cfg_peer *peer,
    SSL_SESSION **session)
{
	struct tls_peer_name	 name;
	struct tls		*t;
	int			 ok = 1;

	if ((t = tls_new(io, peer->ssl_ctx)) == NULL)
		return -1;
	SSL_set_connect_state(t->ssl);
	tls_peer_name(peer, &name);
	if (name.sni != NULL)
		ok &= SSL_set_tlsext_host_name(t->ssl, name.sni) == 1;
	if (peer->verify) {
		SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (name.ip != NULL)
			ok &= X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl),
			    name.ip) == 1;
		else
			ok &= SSL_set1_host(t->ssl, name.host) == 1;
	}
	t->slot = session;
	SSL_set_app_data(t->ssl, session);
	if (*session != NULL) {
		ok &= SSL_set_session(t->ssl, *session) == 1;
		t->offered = true;
	}
	if (!ok) {
		ERR_clear_error();
		SSL_free(t->ssl);
		free(t);
		return -1;
	}
	io->tls = t;
	io->ops = &tls_ops;
	return 0;
}

int
tls_server_start(struct io *io, const struct cfg_tls_listener *l)
{
	struct tls	*t;

	if ((t = tls_new(io, l->ssl_ctx)) == NULL)
		return -1;
	SSL_set_accept_state(t->ssl);
	io->tls = t;
	io->ops = &tls_ops;
	return 0;
}

static int
tls_handshake(struct io *io)
{
	struct tls	*t = io->tls;
	int		 n;

	if (t->established)
		return 0;
	if (t->failed)
		return -1;
	ERR_clear_error();
	errno = 0;
	n = SSL_do_handshake(t->ssl);
	if (n == 1) {
		t->established = true;
		return 0;
	}
	switch (SSL_get_error(t->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		io->want = LOOP_READ;
		return 1;
	case SSL_ERROR_WANT_WRITE:
		io->want = LOOP_WRITE;
		return 1;
	case SSL_ERROR_SYSCALL:
		t->sys_errno = errno;
		break;
	default:
		break;
	}
	t->failed = true;
	t->fail_errno = EPROTO;
	t->verify = SSL_get_verify_result(t->ssl);
	t->err = ERR_peek_error();
	ERR_clear_error();
	/* A session the peer will not resume is not offered again. */
	if (t->offered && t->slot != NULL && *t->slot != NULL) {
		SSL_SESSION_free(*t->slot);
		*t->slot = NULL;
	}
	return -1;
}

/*
 * After a failed SSL call: the errno this and every later call report
 * (the SSL object is unusable now), and no close_notify at the end.
 */
static void
tls_fail(struct tls *t, int code)
{
	if (code == SSL_ERROR_SYSCALL && errno == 0)
		errno = ECONNRESET;
	else if (code != SSL_ERROR_SYSCALL)
		errno = EPROTO;
	t->fail_errno = errno;
	t->failed = true;
	ERR_clear_error();
}

static ssize_t
tls_read(struct io *io, void *buf, size_t len)
{
	struct tls	*t = io->tls;
	size_t		 got = 0;
	int		 n, code;

	io->buffered = false;
	io->read_waits_write = false;
	if (t->eof)
		return 0;
	if (t->failed) {
		errno = t->fail_errno;
		return -1;
	}
	while (got < len) {
		ERR_clear_error();
		errno = 0;
		n = SSL_read(t->ssl, (char *)buf + got, tls_len(len - got));
		if (n > 0) {
			got += (size_t)n;
			/*
			 * Nothing left in OpenSSL and the kernel was empty at
			 * the last read(2): the next edge tells of more, so a
			 * read that would only meet EAGAIN is saved.
			 */
			if (t->drained && SSL_has_pending(t->ssl) == 0)
				return (ssize_t)got;
			continue;
		}
		switch ((code = SSL_get_error(t->ssl, n))) {
		case SSL_ERROR_WANT_READ:
			io->want = LOOP_READ;
			goto blocked;
		case SSL_ERROR_WANT_WRITE:
			io->want = LOOP_WRITE;
			io->read_waits_write = true;
			goto blocked;
		case SSL_ERROR_ZERO_RETURN:
			ERR_clear_error();
			t->eof = true;
			break;
		default:
			tls_fail(t, code);
			break;
		}
		/* An end met after data is the next read's to report. */
		if (got == 0)
			return t->eof ? 0 : -1;
		io->buffered = true;
		return (ssize_t)got;
	}
	/* Read ahead: records may wait in OpenSSL rather than the kernel. */
	io->buffered = SSL_has_pending(t->ssl) == 1;
	return (ssize_t)got;
blocked:
	if (got > 0)
		return (ssize_t)got;
	errno = EAGAIN;
	return -1;
}

static ssize_t
tls_writev(struct io *io, const struct iovec *iov, int cnt)
{
	struct tls	*t = io->tls;
	size_t		 done = 0, off;
	int		 i, n, code;

	io->write_waits_read = false;
	if (t->failed) {
		errno = t->fail_errno;
		return -1;
	}
	for (i = 0; i < cnt; i++) {
		for (off = 0; off < iov[i].iov_len; off += (size_t)n) {
			ERR_clear_error();
			errno = 0;
			n = SSL_write(t->ssl, (const char *)iov[i].iov_base +
			    off, tls_len(iov[i].iov_len - off));
			if (n > 0) {
				done += (size_t)n;
				continue;
			}
			switch ((code = SSL_get_error(t->ssl, n))) {
			case SSL_ERROR_WANT_WRITE:
				io->want = LOOP_WRITE;
				goto blocked;
			case SSL_ERROR_WANT_READ:
				io->want = LOOP_READ;
				io->write_waits_read = true;
				goto blocked;
			default:
				tls_fail(t, code);
				/* What went out counts; the next call reports. */
				return done > 0 ? (ssize_t)done : -1;
			}
		}
	}
	return (ssize_t)done;
blocked:
	if (done > 0)
		return (ssize_t)done;
	errno = EAGAIN;
	return -1;
}

static void
tls_shutdown(struct io *io)
{
	struct tls	*t = io->tls;

	if (t->established && !t->failed && !t->shut) {
		ERR_clear_error();
		(void)SSL_shutdown(t->ssl);
		ERR_clear_error();
		t->shut = true;
	}
	(void)shutdown(io->fd, SHUT_WR);
}

static void
tls_close(struct io *io)
{
	struct tls	*t = io->tls;

	if (t != NULL) {
		/* One try at close_notify: a full socket is not waited for. */
		if (t->established && !t->failed && !t->shut) {
			ERR_clear_error();
			(void)SSL_shutdown(t->ssl);
		}
		ERR_clear_error();
		SSL_free(t->ssl);
		free(t);
		io->tls = NULL;
	}
	close(io->fd);
}

void
tls_reason(long verify, unsigned long err, int sys_errno, char *buf,
    size_t len)
{
	const char	*r;

	if (err != 0 && ERR_GET_LIB(err) == ERR_LIB_SSL &&
	    ERR_GET_REASON(err) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
	    verify != X509_V_OK)
		snprintf(buf, len, "certificate verify failed: %s",
		    X509_verify_cert_error_string(verify));
	else if (err != 0 && (r = ERR_reason_error_string(err)) != NULL)
		snprintf(buf, len, "%s", r);
	else if (err != 0)
		snprintf(buf, len, "OpenSSL error %lx", err);
	else if (sys_errno != 0)
		snprintf(buf, len, "%s", strerror(sys_errno));
	else
		snprintf(buf, len, "the peer closed the connection");
}

bool
tls_error(const struct io *io, char *buf, size_t len)
{
	const struct tls	*t = io->tls;

	if (t == NULL) {
		snprintf(buf, len, "no TLS");
		return false;
	}
	tls_reason(t->verify, t->err, t->sys_errno, buf, len);
	return t->err != 0;
}

bool
tls_resumed(const struct io *io)
{
	const struct tls	*t = io->tls;

	return t != NULL && SSL_session_reused(t->ssl) == 1;
}

void
tls_session_free(SSL_SESSION *session)
{
	SSL_SESSION_free(session);
}

const struct io_ops tls_ops = {
	tls_read,
	tls_writev,
	tls_handshake,
	tls_shutdown,
	tls_close,
};
