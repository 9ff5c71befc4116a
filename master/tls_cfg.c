/*
 * tls_cfg.c: certificates, keys and trust stores into SSL_CTXs, once per
 * config load, with errors that name the file at fault.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls_cfg.h"

static const unsigned char tls_cfg_alpn[] = "\x08http/1.1";

/* OpenSSL's reason for the oldest error queued, then an empty queue. */
static void
tls_cfg_reason(char *buf, size_t len)
{
	unsigned long	 e = ERR_peek_error();
	const char	*r = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (r != NULL)
		snprintf(buf, len, "%s", r);
	else if (e != 0)
		snprintf(buf, len, "OpenSSL error %lx", e);
	else
		snprintf(buf, len, "unknown error");
	ERR_clear_error();
}

/* A key file asking for a passphrase is an error, never a prompt. */
static int
tls_cfg_no_password(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return -1;
}

static int
tls_cfg_new_session(SSL *ssl, SSL_SESSION *sess)
{
	SSL_SESSION	**slot = SSL_get_app_data(ssl);

	if (slot == NULL)
		return 0;
	if (*slot != NULL)
		SSL_SESSION_free(*slot);
	/* Returning 1 keeps the reference OpenSSL gave us. */
	*slot = sess;
	return 1;
}

static int
tls_cfg_select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned inlen, void *arg)
{
	unsigned char	*sel;

	(void)ssl;
	(void)arg;
	/* A client that offers only other protocols gets no ALPN at all. */
	if (SSL_select_next_proto(&sel, outlen, tls_cfg_alpn,
	    sizeof(tls_cfg_alpn) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
tls_cfg_new(const SSL_METHOD *method)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(method)) == NULL)
		return NULL;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/*
	 * Partial writes let a write return what went out before the socket
	 * filled; the buffer may move between retries as ours grow; idle
	 * keep-alive connections give their record buffers back.  Reading
	 * ahead takes all the records the kernel has in one read(2) instead
	 * of two per record (worker/tls.c drains OpenSSL's buffer).
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_passwd_cb(ctx, tls_cfg_no_password);
	return ctx;
}

/* The chain file's certificates, after the leaf and its own intermediates. */
static int
tls_cfg_add_chain(SSL_CTX *ctx, const char *file, char *why, size_t len)
{
	BIO	*bio;
	X509	*x;
	int	 n = 0;

	if ((bio = BIO_new_file(file, "r")) == NULL) {
		tls_cfg_reason(why, len);
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, tls_cfg_no_password,
	    NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			BIO_free(bio);
			tls_cfg_reason(why, len);
			return -1;
		}
		n++;
	}
	BIO_free(bio);
	if (n == 0) {
		tls_cfg_reason(why, len);
		return -1;
	}
	/* The loop ends on "no start line" after the last certificate. */
	ERR_clear_error();
	return 0;
}

static EVP_PKEY *
tls_cfg_read_key(const char *file, char *why, size_t len)
{
	BIO		*bio;
	EVP_PKEY	*key;

	if ((bio = BIO_new_file(file, "r")) == NULL) {
		tls_cfg_reason(why, len);
		return NULL;
	}
	key = PEM_read_bio_PrivateKey(bio, NULL, tls_cfg_no_password, NULL);
	BIO_free(bio);
	if (key == NULL)
		tls_cfg_reason(why, len);
	return key;
}

SSL_CTX *
tls_cfg_server(const struct cfg_tls_listener *l, enum tls_cfg_file *bad,
    char *why, size_t len)
{
	SSL_CTX		*ctx;
	EVP_PKEY	*key = NULL;
	char		 r[256];

	ERR_clear_error();
	*bad = TLS_CFG_CERT;
	if ((ctx = tls_cfg_new(TLS_server_method())) == NULL) {
		tls_cfg_reason(r, sizeof(r));
		snprintf(why, len, "cannot set up TLS: %s", r);
		return NULL;
	}
	if (SSL_CTX_set_cipher_list(ctx, TLS_CFG_CIPHERS) != 1) {
		tls_cfg_reason(r, sizeof(r));
		snprintf(why, len, "cannot set up TLS ciphers: %s", r);
		goto fail;
	}
	SSL_CTX_set_dh_auto(ctx, 1);
	/* Needed for session resumption with an id; tickets work without. */
	(void)SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)"shunt", 5);
	SSL_CTX_set_alpn_select_cb(ctx, tls_cfg_select_alpn, NULL);

	if (SSL_CTX_use_certificate_chain_file(ctx, l->cert) != 1) {
		tls_cfg_reason(r, sizeof(r));
		snprintf(why, len, "certificate file \"%s\" holds no usable PEM "
		    "certificate (%s)", l->cert, r);
		goto fail;
	}
	if (l->chain != NULL && tls_cfg_add_chain(ctx, l->chain, r,
	    sizeof(r)) != 0) {
		*bad = TLS_CFG_CHAIN;
		snprintf(why, len, "chain file \"%s\" holds no usable PEM "
		    "certificate (%s)", l->chain, r);
		goto fail;
	}
	*bad = TLS_CFG_KEY;
	if ((key = tls_cfg_read_key(l->key, r, sizeof(r))) == NULL) {
		snprintf(why, len, "key file \"%s\" holds no usable PEM private "
		    "key (%s%s)", l->key, r, strstr(r, "password") != NULL ?
		    ": encrypted keys are not supported" : "");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(why, len, "key file \"%s\" does not match the "
		    "certificate in \"%s\"", l->key, l->cert);
		goto fail;
	}
	EVP_PKEY_free(key);
	return ctx;
fail:
	EVP_PKEY_free(key);
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *
tls_cfg_client(const struct cfg_peer *peer, char *why, size_t len)
{
	SSL_CTX	*ctx;
	char	 r[256];

	ERR_clear_error();
	if ((ctx = tls_cfg_new(TLS_client_method())) == NULL) {
		tls_cfg_reason(r, sizeof(r));
		snprintf(why, len, "cannot set up TLS: %s", r);
		return NULL;
	}
	/* set_alpn_protos is the one OpenSSL call where 0 means success. */
	if (SSL_CTX_set_alpn_protos(ctx, tls_cfg_alpn,
	    sizeof(tls_cfg_alpn) - 1) != 0) {
		tls_cfg_reason(r, sizeof(r));
		snprintf(why, len, "cannot set up ALPN: %s", r);
		goto fail;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, tls_cfg_new_session);
	if (!peer->verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (peer->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, peer->ca_file,
		    NULL) != 1) {
			tls_cfg_reason(r, sizeof(r));
			snprintf(why, len, "CA file \"%s\" holds no usable PEM "
			    "certificate (%s)", peer->ca_file, r);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_cfg_reason(r, sizeof(r));
		snprintf(why, len, "cannot load the system's trusted "
		    "certificates: %s", r);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
tls_cfg_client_alike(const struct cfg_peer *a, const struct cfg_peer *b)
{
	if (a->verify != b->verify)
		return 0;
	if (!a->verify)
		return 1;
	if (a->ca_file == NULL || b->ca_file == NULL)
		return a->ca_file == b->ca_file;
	return strcmp(a->ca_file, b->ca_file) == 0;
}

void
tls_cfg_ref(SSL_CTX *ctx)
{
	SSL_CTX_up_ref(ctx);
}

void
tls_cfg_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}
