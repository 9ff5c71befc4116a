#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlsgen.h"

static const char *const tlsgen_files[] = {
	"ca.pem", "ca.key", "other-ca.pem", "other-ca.key", "leaf.pem",
	"leaf.key", "other.key", "garbage.pem", "ca-chain.pem",
};

const char *
tlsgen_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
	return buf;
}

char *
tlsgen_tmpdir(char *buf, size_t len)
{
	const char	*tmp = getenv("TMPDIR");

	snprintf(buf, len, "%s/shunt-unit-tls.XXXXXX", tmp != NULL &&
	    *tmp != '\0' ? tmp : "/tmp");
	return mkdtemp(buf);
}

void
tlsgen_cleanup(const char *dir)
{
	char	 path[4096];
	size_t	 i;

	for (i = 0; i < sizeof(tlsgen_files) / sizeof(tlsgen_files[0]); i++)
		(void)unlink(tlsgen_path(path, sizeof(path), dir,
		    tlsgen_files[i]));
	(void)rmdir(dir);
}

static int
tlsgen_ext(X509 *issuer, X509 *x, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;
	int		 ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A certificate for key named cn, signed by issuer (NULL: itself). */
static X509 *
tlsgen_cert(EVP_PKEY *key, const char *cn, long serial, X509 *issuer,
    EVP_PKEY *issuer_key, const char *san)
{
	X509	*x;
	int	 ok;

	if ((x = X509_new()) == NULL)
		return NULL;
	ok = X509_set_version(x, 2) &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), serial) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL &&
	    X509_set_pubkey(x, key) &&
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) &&
	    X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ?
	    issuer : x));
	if (ok && issuer == NULL)
		ok = tlsgen_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") &&
		    tlsgen_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (ok && issuer != NULL)
		ok = tlsgen_ext(issuer, x, NID_basic_constraints, "CA:FALSE") &&
		    tlsgen_ext(issuer, x, NID_subject_alt_name, san);
	if (ok)
		ok = X509_sign(x, issuer_key != NULL ? issuer_key : key,
		    EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
tlsgen_write(const char *dir, const char *name, X509 *x, EVP_PKEY *key)
{
	char	 path[4096];
	FILE	*fp;
	int	 ok;

	if ((fp = fopen(tlsgen_path(path, sizeof(path), dir, name),
	    "w")) == NULL)
		return 0;
	ok = x != NULL ? PEM_write_X509(fp, x) : PEM_write_PrivateKey(fp, key,
	    NULL, NULL, 0, NULL, NULL);
	return fclose(fp) == 0 && ok;
}

int
tlsgen_make(const char *dir)
{
	EVP_PKEY	*cakey, *ocakey, *leafkey, *otherkey;
	X509		*ca = NULL, *oca = NULL, *leaf = NULL;
	char		 path[4096];
	FILE		*fp;
	int		 ok;

	cakey = EVP_EC_gen("P-256");
	ocakey = EVP_EC_gen("P-256");
	leafkey = EVP_EC_gen("P-256");
	otherkey = EVP_EC_gen("P-256");
	ok = cakey != NULL && ocakey != NULL && leafkey != NULL &&
	    otherkey != NULL;
	if (ok)
		ok = (ca = tlsgen_cert(cakey, "unit CA", 1, NULL, NULL,
		    NULL)) != NULL && (oca = tlsgen_cert(ocakey, "other CA", 2,
		    NULL, NULL, NULL)) != NULL && (leaf = tlsgen_cert(leafkey,
		    "backend.test", 3, ca, cakey,
		    "DNS:backend.test,IP:127.0.0.1")) != NULL;
	if (ok)
		ok = tlsgen_write(dir, "ca.pem", ca, NULL) &&
		    tlsgen_write(dir, "ca.key", NULL, cakey) &&
		    tlsgen_write(dir, "ca-chain.pem", ca, NULL) &&
		    tlsgen_write(dir, "other-ca.pem", oca, NULL) &&
		    tlsgen_write(dir, "other-ca.key", NULL, ocakey) &&
		    tlsgen_write(dir, "leaf.pem", leaf, NULL) &&
		    tlsgen_write(dir, "leaf.key", NULL, leafkey) &&
		    tlsgen_write(dir, "other.key", NULL, otherkey);
	if (ok) {
		fp = fopen(tlsgen_path(path, sizeof(path), dir, "garbage.pem"),
		    "w");
		ok = fp != NULL && fputs("not PEM\n", fp) >= 0 &&
		    fclose(fp) == 0;
	}
	if (!ok) {
		printf("# tlsgen: cannot make certificates in %s\n", dir);
		ERR_print_errors_fp(stdout);
	}
	X509_free(ca);
	X509_free(oca);
	X509_free(leaf);
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(ocakey);
	EVP_PKEY_free(leafkey);
	EVP_PKEY_free(otherkey);
	return ok ? 0 : -1;
}
