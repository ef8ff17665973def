#!/usr/bin/env bash
# Installs the Debian packages the test-suite needs when they are missing: PostgreSQL's server binaries
# (initdb, pg_ctl, postgres). The tests start their own throw-away server; nothing is configured system-wide.
set -euo pipefail
have_pg() {
  command -v initdb >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
if have_pg; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "Installing Debian's postgresql (server binaries for the PostgreSQL tests)..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
