#!/usr/bin/env bash
# Test certificates made with the openssl CLI, independent of our own PKI code:
#   gencerts.sh DIR [AGENT_CN...]
# DIR/ca.{crt,key}          test CA (EC P-256)
# DIR/gateway.{crt,key}     server certificate for localhost / 127.0.0.1
# DIR/<cn>.{crt,key}        client certificate with CN=<cn> for each AGENT_CN (default: agent-1 agent-2)
# DIR/revoked.{crt,key}     client certificate CN=revoked, listed in DIR/ca.crl
# DIR/other-ca.{crt,key}    an unrelated CA, and DIR/stranger.{crt,key} a client it signed (CN=agent-1)
set -euo pipefail
dir=$1; shift
agents=("$@"); [ ${#agents[@]} -gt 0 ] || agents=(agent-1 agent-2)
mkdir -p "$dir"; cd "$dir"
days=30
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }
mkca() { # name cn
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days $days -sha256 \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$1.crt" 2>/dev/null
}
issue() { # ca name cn kind(server|client)
    key "$2.key"
    openssl req -new -key "$2.key" -subj "/CN=$3" -out "$2.csr" 2>/dev/null
    if [ "$4" = server ]; then
        ext="basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1"
    else
        ext="basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth"
    fi
    openssl x509 -req -in "$2.csr" -CA "$1.crt" -CAkey "$1.key" -CAcreateserial -days $days -sha256 \
        -extfile <(printf "$ext") -out "$2.crt" 2>/dev/null
    rm -f "$2.csr"
}
mkca ca "ServiceRadar Test CA"
issue ca gateway gateway server
for a in "${agents[@]}"; do issue ca "$a" "$a" client; done
issue ca revoked revoked client
# CRL listing the revoked certificate (openssl ca needs a small database)
mkdir -p crldb; : > crldb/index.txt; echo 1000 > crldb/crlnumber
cat > crldb/ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = crldb/index.txt
crlnumber = crldb/crlnumber
default_md = sha256
default_crl_days = $days
certificate = ca.crt
private_key = ca.key
CNF
openssl ca -config crldb/ca.cnf -revoke revoked.crt >/dev/null 2>&1
openssl ca -config crldb/ca.cnf -gencrl -out ca.crl >/dev/null 2>&1
mkca other-ca "Unrelated CA"
issue other-ca stranger agent-1 client
echo "$dir"
