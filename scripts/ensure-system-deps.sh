#!/usr/bin/env bash
# Installs the Debian packages inkseal needs when they are missing:
# - postgresql: server binaries (initdb, pg_ctl, postgres) for the tests, which start their own
#   throw-away server; nothing is configured system-wide;
# - fonts-wqy-microhei: a CJK font for signatures, figures and reports in Chinese;
# - chromium: the headless browser `scan --browser` and the demo open pages in (screenshots);
# - libpango (WeasyPrint renders the PDF reports with it) and poppler-utils (pdftoppm, used by the
#   tests to look at the rendered PDF pages).
set -euo pipefail
have_pg() {
  command -v initdb >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
need=()
have_pg || need+=(postgresql)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
ldconfig -p 2>/dev/null | grep -q libpango-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
ldconfig -p 2>/dev/null | grep -q libharfbuzz-subset || need+=(libharfbuzz-subset0)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Please install: ${need[*]} (Debian/Ubuntu package names)" >&2
  exit 1
fi
echo "Installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
