/*
 * tlsgen.h: certificates for the TLS unit tests, made in memory with
 * OpenSSL and written as PEM files into a temporary directory.
 *
 * tlsgen_make(dir) writes, all EC P-256, valid from an hour ago for a day:
 *	ca.pem, ca.key		a CA ("unit CA")
 *	other-ca.pem		another CA, which signed nothing here
 *	leaf.pem, leaf.key	"backend.test", DNS:backend.test, IP:127.0.0.1,
 *				signed by ca
 *	other.key		a key no certificate matches
 *	garbage.pem		a file that is not PEM
 */
#ifndef SHUNT_TESTS_TLSGEN_H
#define SHUNT_TESTS_TLSGEN_H

#include <stddef.h>

/* Returns 0, or -1 after printing why. */
int	tlsgen_make(const char *dir);

/* dir/name into buf (for config text and tls contexts). */
const char *tlsgen_path(char *buf, size_t len, const char *dir,
	    const char *name);

/* A fresh temporary directory (mkdtemp) into buf; NULL on failure. */
char	*tlsgen_tmpdir(char *buf, size_t len);

/* Remove the files tlsgen_make() wrote, then the directory. */
void	tlsgen_cleanup(const char *dir);

#endif
