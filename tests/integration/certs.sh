# certs.sh: a throwaway CA and certificates for the TLS tests and the TLS
# benchmark, made with the openssl command at test time.  Source it, then
# run make_certs DIR.  Keys are EC P-256 (fast to make and to use); every
# certificate is valid for two days and names only loopback.
#
# DIR/ca.pem            the test CA ("shunt test CA")
# DIR/other-ca.pem      a second CA that signed nothing used here
# DIR/backend.{pem,key} backend.test, localhost, 127.0.0.1 (signed by ca)
# DIR/site.{pem,key}    shunt.test, localhost, 127.0.0.1 (signed by ca)
# DIR/site2.{pem,key}   the same names, another key and serial (a renewal)
# DIR/site-leaf.pem     the site certificate alone, DIR/ca-chain.pem the CA
# DIR/other.key         a key that matches no certificate
# DIR/garbage.pem       not PEM at all

# make_certs DIR: returns non-zero (and says why) if openssl failed.
make_certs() {
	mc_dir=$1
	mkdir -p "$mc_dir" || return 1
	cat > "$mc_dir/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $ENV::MC_SAN
authorityKeyIdentifier = keyid
CNF
	(
		set -e
		cd "$mc_dir"
		export MC_SAN=DNS:unused OPENSSL_CONF=$mc_dir/openssl.cnf
		key() {
			openssl genpkey -algorithm EC \
			    -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
		}
		ca() {
			key "$1.key"
			openssl req -config openssl.cnf -new -x509 -days 2 \
			    -key "$1.key" -subj "/CN=$2" -extensions ca_ext \
			    -out "$1.pem"
		}
		leaf() {
			key "$1.key"
			openssl req -config openssl.cnf -new -key "$1.key" \
			    -subj "/CN=$2" -out "$1.csr"
			MC_SAN=$3 openssl x509 -req -days 2 -in "$1.csr" \
			    -CA ca.pem -CAkey ca.key -set_serial "$4" \
			    -extfile openssl.cnf -extensions leaf_ext \
			    -out "$1.pem" 2>/dev/null
			rm -f "$1.csr"
		}
		ca ca "shunt test CA"
		ca other-ca "other test CA"
		leaf backend backend.test \
		    "DNS:backend.test,DNS:localhost,IP:127.0.0.1" 1001
		leaf site shunt.test "DNS:shunt.test,DNS:localhost,IP:127.0.0.1" \
		    1002
		leaf site2 shunt.test "DNS:shunt.test,DNS:localhost,IP:127.0.0.1" \
		    1003
		cp site.pem site-leaf.pem
		cp ca.pem ca-chain.pem
		key other.key
		echo "this is not a PEM file" > garbage.pem
	) || {
		echo "# make_certs: openssl failed in $mc_dir"
		return 1
	}
}
