#!/usr/bin/env sh
# First-time setup for docker compose: creates .env from .env.example and the
# secret files the compose file mounts. Never overwrites what exists, so it is
# safe to run again.
set -eu
cd "$(dirname "$0")"

# Compose bind-mounts secret files with their host permissions and the image
# runs as a non-root user, so the files are readable (0644) while the folder
# keeps everyone else on the host out (0700).
umask 022
mkdir -p secrets
chmod 700 secrets

if [ ! -f .env ]; then
  cp .env.example .env
  echo "created .env: set SCANLOGIN_PUBLIC_URL, SCANLOGIN_DOMAIN and SCANLOGIN_WECHAT_APPID"
fi

if [ ! -f secrets/signing_key.pem ]; then
  openssl genpkey -algorithm ed25519 -out secrets/signing_key.pem
  chmod 644 secrets/signing_key.pem # openssl writes 0600 whatever the umask
  echo "created secrets/signing_key.pem (Ed25519 JWT signing key)"
fi

if [ ! -f secrets/session_key_secret ]; then
  # 32 random bytes, hex: the AES-256-GCM key for WeChat session keys at rest.
  openssl rand -hex 32 > secrets/session_key_secret
  echo "created secrets/session_key_secret"
fi

if [ ! -f secrets/postgres_password ]; then
  # Hex: nothing in it needs escaping in the URL below.
  openssl rand -hex 24 > secrets/postgres_password
  echo "created secrets/postgres_password"
fi

if [ ! -f secrets/database_url ]; then
  echo "postgres://scanlogin:$(cat secrets/postgres_password)@postgres:5432/scanlogin?sslmode=disable" > secrets/database_url
  echo "created secrets/database_url"
fi

if [ ! -f secrets/wechat_secret ]; then
  : > secrets/wechat_secret
  echo "created an empty secrets/wechat_secret: paste the mini-program's AppSecret into it"
fi
