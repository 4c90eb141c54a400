#!/usr/bin/env bash
# Throwaway TLS material and tokens for docker-compose.yml and for trying TLS
# locally; NOT for production (use your PKI or cert-manager: docs/security.md).
# Writes into DIR (default deploy/secrets, ignored by git):
#   ca.crt, ca.key           a self-signed CA (10 days)
#   server.crt, server.key   the server's certificate for NAMES
#                            (default: camserve, localhost, 127.0.0.1)
#   client.crt, client.key   a client certificate (for mutual TLS)
#   tokens                   one ordinary token and one admin token
#   client.token             the ordinary token, for clients' --token-file
#   admin.token              the admin token (ClearCache)
#   deploy/make_dev_secrets.sh [DIR] [NAMES...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-deploy/secrets}
shift || true
names=("$@")
((${#names[@]})) || names=(camserve localhost 127.0.0.1)
mkdir -p "$dir"
cd "$dir"
san=""
for name in "${names[@]}"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+="IP:$name,"; else san+="DNS:$name,"; fi
done
san=${san%,}
openssl req -x509 -newkey rsa:2048 -nodes -days 10 -subj "/CN=camserve dev CA" \
  -keyout ca.key -out ca.crt 2> /dev/null
issue() {  # name, subject, extensions
  openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2> /dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 10 \
    -extfile <(printf '%s\n' "$3") -out "$1.crt" 2> /dev/null
  rm -f "$1.csr"
}
issue server "/CN=${names[0]}" "subjectAltName=$san
extendedKeyUsage=serverAuth"
issue client "/CN=camserve dev client" "extendedKeyUsage=clientAuth"
client_token=$(openssl rand -hex 32)
admin_token=$(openssl rand -hex 32)
printf '# camserve tokens: one per line, "admin" after a token allows ClearCache\n%s\n%s admin\n' \
  "$client_token" "$admin_token" > tokens
printf '%s\n' "$client_token" > client.token
printf '%s\n' "$admin_token" > admin.token
# The container runs as user 10001 and must be able to read all of them.
chmod 0644 ./*.crt tokens client.token admin.token
chmod 0644 ./*.key  # throwaway keys, readable by the container user too
echo "make_dev_secrets: wrote $(pwd): CA, server certificate for ${names[*]}, client certificate, tokens"
