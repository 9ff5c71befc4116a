/*
 * Unit tests for worker/tls.c and master/tls_cfg.c: which name a peer is
 * called by, the failure texts, and real handshakes between the two ends
 * of a non-blocking socketpair, driven by hand, with certificates made in
 * a temporary directory (tlsgen.h): verification against a CA file, host
 * name and IP checks, session resumption, large transfers through small
 * socket buffers, and the end of stream.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tap.h"
#include "tls.h"
#include "tls_cfg.h"
#include "tlsgen.h"

static char	 dir[4096];
static int	 have_certs;

static void
test_peer_name(void)
{
	static const struct {
		const char	*host;		/* the address's host */
		const char	*sni;		/* "sni" in the config */
		const char	*want_sni, *want_host, *want_ip;
	} cases[] = {
		{ "backend.example", NULL, "backend.example", "backend.example",
		    NULL },
		{ "backend.example", "api.example", "api.example",
		    "api.example", NULL },
		{ "127.0.0.5", NULL, NULL, NULL, "127.0.0.5" },
		{ "127.0.0.5", "sni.test", "sni.test",
		    "sni.test", NULL },
		{ "::1", NULL, NULL, NULL, "::1" },
		{ "::1", "v6.example", "v6.example", "v6.example",
		    NULL },
		{ "localhost", NULL, "localhost", "localhost", NULL },
		/* an IP as "sni" is no server name either */
		{ "backend.example", "127.0.0.9", NULL, NULL, "127.0.0.9" },
	};
	struct cfg_peer		 peer;
	struct tls_peer_name	 n;
	size_t			 i;

#define SAME(a, b) ((a) == NULL ? (b) == NULL : (b) != NULL && \
	strcmp((a), (b)) == 0)
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&peer, 0, sizeof(peer));
		peer.addr.host = (char *)cases[i].host;
		peer.sni = (char *)cases[i].sni;
		tls_peer_name(&peer, &n);
		if (!tap_result(SAME(n.sni, cases[i].want_sni) &&
		    SAME(n.host, cases[i].want_host) &&
		    SAME(n.ip, cases[i].want_ip), "tls: peer %s sni %s -> "
		    "SNI %s, checked against %s", cases[i].host,
		    cases[i].sni ? cases[i].sni : "(none)",
		    cases[i].want_sni ? cases[i].want_sni : "(none)",
		    cases[i].want_host ? cases[i].want_host :
		    cases[i].want_ip))
			CU_FAIL("peer name");
	}
#undef SAME
}

static void
test_reason(void)
{
	static const struct {
		long		 verify;
		unsigned long	 err;
		int		 sys_errno;
		const char	*want;
	} cases[] = {
		{ X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
		    ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED), 0,
		    "certificate verify failed: unable to get local issuer "
		    "certificate" },
		{ X509_V_ERR_HOSTNAME_MISMATCH,
		    ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED), 0,
		    "certificate verify failed: hostname mismatch" },
		{ X509_V_ERR_CERT_HAS_EXPIRED,
		    ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED), 0,
		    "certificate verify failed: certificate has expired" },
		{ X509_V_OK, ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER),
		    0, "wrong version number" },
		{ X509_V_OK, 0, ECONNRESET, "Connection reset by peer" },
		{ X509_V_OK, 0, 0, "the peer closed the connection" },
	};
	char	 buf[128];
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tls_reason(cases[i].verify, cases[i].err, cases[i].sys_errno,
		    buf, sizeof(buf));
		if (!tap_result(strcmp(buf, cases[i].want) == 0,
		    "tls: reason \"%s\"", cases[i].want)) {
			printf("#   got \"%s\"\n", buf);
			CU_FAIL("reason");
		}
	}
}

/* --- real handshakes over a socketpair --------------------------------- */

struct pair {
	struct io	 c, s;
};

static struct cfg_tls_listener	 lst;
static char			 f_cert[4200], f_key[4200], f_ca[4200],
				 f_other_ca[4200];

static int
pair_open(struct pair *p, const struct cfg_peer *peer, SSL_SESSION **slot,
    int sndbuf)
{
	int	 sv[2];

	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		return -1;
	if (sndbuf > 0) {
		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    sizeof(sndbuf));
		(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    sizeof(sndbuf));
	}
	p->c.fd = sv[0];
	p->c.ops = &io_plain_ops;
	p->s.fd = sv[1];
	p->s.ops = &io_plain_ops;
	if (tls_client_start(&p->c, peer, slot) == -1 ||
	    tls_server_start(&p->s, &lst) == -1) {
		io_close(&p->c);
		io_close(&p->s);
		return -1;
	}
	return 0;
}

static void
pair_close(struct pair *p)
{
	io_close(&p->c);
	io_close(&p->s);
}

/* Step both ends until both are done (0) or one failed (-1). */
static int
pair_handshake(struct pair *p, int *crc, int *src)
{
	int	 i;

	*crc = *src = 1;
	for (i = 0; i < 100; i++) {
		if (*crc == 1)
			*crc = io_handshake(&p->c);
		if (*src == 1)
			*src = io_handshake(&p->s);
		if (*crc == 0 && *src == 0)
			return 0;
		if (*crc == -1 && *src != 0)
			return -1;
		if (*src == -1 && *crc != 0)
			return -1;
	}
	return -1;
}

/*
 * Move len bytes from one end to the other, alternating non-blocking
 * writes and reads; checks the edge contract on the way: a short write
 * or read is followed, with nothing done at the other end, by EAGAIN.
 */
static int
pair_move(struct io *from, struct io *to, const char *data, size_t len,
    char *got, int *contract_ok)
{
	size_t	 sent = 0, recvd = 0;
	ssize_t	 n;
	int	 rounds = 0;

	while (recvd < len && rounds++ < 100000) {
		if (sent < len) {
			n = io_writev(from, &(struct iovec){ (void *)(data +
			    sent), len - sent }, 1);
			if (n > 0) {
				sent += (size_t)n;
				if (sent < len && (io_writev(from,
				    &(struct iovec){ (void *)(data + sent),
				    len - sent }, 1) != -1 || errno != EAGAIN))
					*contract_ok = 0;
			} else if (n == -1 && errno != EAGAIN)
				return -1;
		}
		n = io_read(to, got + recvd, len - recvd > 5000 ? 5000 :
		    len - recvd);
		if (n > 0) {
			recvd += (size_t)n;
			if ((size_t)n < 5000 && recvd < len && !to->buffered &&
			    (io_read(to, got + recvd, 1) != -1 ||
			    errno != EAGAIN))
				*contract_ok = 0;
		} else if (n == 0 || errno != EAGAIN)
			return -1;
	}
	return recvd == len ? 0 : -1;
}

static void
peer_init(struct cfg_peer *peer, const char *host, const char *sni,
    bool verify, const char *ca)
{
	char	 why[512];

	memset(peer, 0, sizeof(*peer));
	peer->addr.host = (char *)host;
	peer->sni = (char *)sni;
	peer->tls = true;
	peer->verify = verify;
	peer->ca_file = (char *)ca;
	peer->ssl_ctx = tls_cfg_client(peer, why, sizeof(why));
	if (peer->ssl_ctx == NULL)
		printf("# tls_cfg_client: %s\n", why);
}

static void
test_handshakes(void)
{
	static const struct {
		const char	*host, *sni;
		bool		 verify;
		int		 ca;		/* 0 ours, 1 the other */
		const char	*want;		/* NULL: success */
	} cases[] = {
		{ "127.0.0.3", "backend.test", true, 0, NULL },
		{ "backend.test", NULL, true, 0, NULL },
		{ "127.0.0.1", NULL, true, 0, NULL },
		{ "127.0.0.2", NULL, true, 0,
		    "certificate verify failed: IP address mismatch" },
		{ "127.0.0.3", "wrong.test", true, 0,
		    "certificate verify failed: hostname mismatch" },
		{ "127.0.0.3", "backend.test", true, 1,
		    "certificate verify failed: unable to get local issuer "
		    "certificate" },
		{ "127.0.0.3", "wrong.test", false, 1, NULL },
	};
	struct cfg_peer	 peer;
	struct pair	 p;
	SSL_SESSION	*slot = NULL;
	char		 why[128];
	size_t		 i;
	int		 crc, src, rc;

	if (!have_certs) {
		CU_FAIL("no certificates");
		return;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		peer_init(&peer, cases[i].host, cases[i].sni, cases[i].verify,
		    cases[i].ca ? f_other_ca : f_ca);
		CU_ASSERT_PTR_NOT_NULL_FATAL(peer.ssl_ctx);
		CU_ASSERT_EQUAL_FATAL(pair_open(&p, &peer, &slot, 0), 0);
		rc = pair_handshake(&p, &crc, &src);
		why[0] = '\0';
		if (crc == -1)
			(void)tls_error(&p.c, why, sizeof(why));
		if (!tap_result(cases[i].want == NULL ? rc == 0 : crc == -1 &&
		    strcmp(why, cases[i].want) == 0, "tls: handshake with %s "
		    "(sni %s, verify %s, %s CA): %s", cases[i].host,
		    cases[i].sni ? cases[i].sni : "-", cases[i].verify ? "on" :
		    "off", cases[i].ca ? "another" : "the right",
		    cases[i].want ? cases[i].want : "ok")) {
			printf("#   rc %d/%d/%d: \"%s\"\n", rc, crc, src, why);
			CU_FAIL("handshake");
		}
		pair_close(&p);
		tls_session_free(slot);
		slot = NULL;
		tls_cfg_free(peer.ssl_ctx);
	}
}

static void
test_resume_and_transfer(void)
{
	struct cfg_peer	 peer;
	struct pair	 p;
	SSL_SESSION	*slot = NULL;
	char		*data, *got;
	size_t		 len = 1024 * 1024, i;
	int		 crc, src, contract = 1;
	ssize_t		 n;

	if (!have_certs) {
		CU_FAIL("no certificates");
		return;
	}
	peer_init(&peer, "127.0.0.1", "backend.test", true, f_ca);
	CU_ASSERT_PTR_NOT_NULL_FATAL(peer.ssl_ctx);
	data = malloc(len);
	got = malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	for (i = 0; i < len; i++)
		data[i] = (char)(i * 7 + i / 1000);

	/* First connection: a full handshake; the session lands in slot. */
	CU_ASSERT_EQUAL_FATAL(pair_open(&p, &peer, &slot, 8192), 0);
	CU_ASSERT_EQUAL(pair_handshake(&p, &crc, &src), 0);
	CU_ASSERT_FALSE(tls_resumed(&p.c));
	tap_result(pair_move(&p.c, &p.s, data, len, got, &contract) == 0 &&
	    memcmp(data, got, len) == 0, "tls: 1 MiB client to server through "
	    "8 KiB socket buffers");
	memset(got, 0, len);
	tap_result(pair_move(&p.s, &p.c, data, len, got, &contract) == 0 &&
	    memcmp(data, got, len) == 0, "tls: 1 MiB server to client");
	tap_result(contract, "tls: a short read or write means the socket "
	    "would block (io.h's edge contract)");
	CU_ASSERT_TRUE(contract);
	tap_result(slot != NULL, "tls: the server's session is kept in the "
	    "peer's slot");

	/* The end of stream: data and close_notify in one read. */
	n = io_writev(&p.s, &(struct iovec){ "bye", 3 }, 1);
	CU_ASSERT_EQUAL(n, 3);
	io_close(&p.s);
	n = io_read(&p.c, got, 100);
	CU_ASSERT_EQUAL(n, 3);
	if (n == 3)
		CU_ASSERT_TRUE(p.c.buffered);
	n = io_read(&p.c, got, 100);
	tap_result(n == 0, "tls: the end of stream read along with data comes "
	    "with the next read");
	pair_close(&p);

	/* Second connection: resumed from the slot. */
	CU_ASSERT_EQUAL_FATAL(pair_open(&p, &peer, &slot, 0), 0);
	CU_ASSERT_EQUAL(pair_handshake(&p, &crc, &src), 0);
	tap_result(tls_resumed(&p.c) && tls_resumed(&p.s), "tls: the next "
	    "connection to the peer resumes its session");
	pair_close(&p);

	tls_session_free(slot);
	tls_cfg_free(peer.ssl_ctx);
	free(data);
	free(got);
}

static void
test_server_contexts(void)
{
	struct cfg_tls_listener	 l;
	enum tls_cfg_file	 bad;
	char			 why[1024], garbage[4200], other[4200];
	SSL_CTX			*ctx;

	if (!have_certs) {
		CU_FAIL("no certificates");
		return;
	}
	tlsgen_path(garbage, sizeof(garbage), dir, "garbage.pem");
	tlsgen_path(other, sizeof(other), dir, "other.key");
	memset(&l, 0, sizeof(l));
	l.cert = garbage;
	l.key = f_key;
	CU_ASSERT_PTR_NULL(tls_cfg_server(&l, &bad, why, sizeof(why)));
	CU_ASSERT_EQUAL(bad, TLS_CFG_CERT);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "holds no usable PEM certificate"));
	l.cert = f_cert;
	l.key = other;
	CU_ASSERT_PTR_NULL(tls_cfg_server(&l, &bad, why, sizeof(why)));
	CU_ASSERT_EQUAL(bad, TLS_CFG_KEY);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "does not match the certificate"));
	l.key = garbage;
	CU_ASSERT_PTR_NULL(tls_cfg_server(&l, &bad, why, sizeof(why)));
	CU_ASSERT_EQUAL(bad, TLS_CFG_KEY);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "holds no usable PEM private key"));
	l.key = f_key;
	l.chain = garbage;
	CU_ASSERT_PTR_NULL(tls_cfg_server(&l, &bad, why, sizeof(why)));
	CU_ASSERT_EQUAL(bad, TLS_CFG_CHAIN);
	l.chain = f_ca;
	ctx = tls_cfg_server(&l, &bad, why, sizeof(why));
	CU_ASSERT_PTR_NOT_NULL(ctx);
	tls_cfg_free(ctx);
	/* No error left behind for the next OpenSSL call to trip over. */
	CU_ASSERT_EQUAL(ERR_peek_error(), 0);
}

static int
suite_init(void)
{
	char	 why[1024];
	enum tls_cfg_file bad;

	signal(SIGPIPE, SIG_IGN);
	if (tlsgen_tmpdir(dir, sizeof(dir)) == NULL || tlsgen_make(dir) != 0)
		return 0;
	tlsgen_path(f_cert, sizeof(f_cert), dir, "leaf.pem");
	tlsgen_path(f_key, sizeof(f_key), dir, "leaf.key");
	tlsgen_path(f_ca, sizeof(f_ca), dir, "ca.pem");
	tlsgen_path(f_other_ca, sizeof(f_other_ca), dir, "other-ca.pem");
	lst.cert = f_cert;
	lst.key = f_key;
	if ((lst.ssl_ctx = tls_cfg_server(&lst, &bad, why,
	    sizeof(why))) == NULL) {
		printf("# tls_cfg_server: %s\n", why);
		return 0;
	}
	have_certs = 1;
	return 0;
}

static int
suite_clean(void)
{
	if (lst.ssl_ctx != NULL)
		tls_cfg_free(lst.ssl_ctx);
	if (dir[0] != '\0')
		tlsgen_cleanup(dir);
	return 0;
}

int
main(void)
{
	CU_pSuite	 s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	s = CU_add_suite("tls", suite_init, suite_clean);
	CU_add_test(s, "peer names: SNI and what is checked", test_peer_name);
	CU_add_test(s, "failure reasons", test_reason);
	CU_add_test(s, "handshakes: verification", test_handshakes);
	CU_add_test(s, "resumption, transfers, end of stream",
	    test_resume_and_transfer);
	CU_add_test(s, "listener contexts: file errors", test_server_contexts);
	return tap_run_registry();
}
