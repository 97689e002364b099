#!/usr/bin/env bash
# The Debian packages that the demo or the tests run for real, installed only when missing.
#   scripts/system-deps.sh demo   what `make demo` uses: OpenLDAP's slapd (the demo's directory)
#   scripts/system-deps.sh test   what `make test` uses besides: ldap-utils (ldapsearch, the benchmark's
#                                 yardstick), PostgreSQL, Samba's AD DC (samba + samba-tool; the AD DC's
#                                 database modules come with samba-ad-dc, the schema files with
#                                 samba-ad-provision), Chromium and its driver (browser tests), and the
#                                 libraries WeasyPrint renders PDF with (Pango, a font)
#   --dry-run                     print what would be installed, install nothing
# Packages are installed with their services held back (a policy-rc.d that refuses starts), and the
# services they enabled are disabled again: the tests start throwaway servers of their own, and a
# newcomer's machine is not left running a system slapd or Samba. PostgreSQL is left as the machine has it.
set -euo pipefail
mode="${1:-test}"
dry=""
[ "${2:-}" = "--dry-run" ] && dry=1
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
need=()
want() { have_pkg "$1" || need+=("$1"); }
case "$mode" in
  demo) want slapd ;;
  test)
    want slapd; want ldap-utils
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
    want samba; want samba-ad-dc; want samba-ad-provision
    want chromium; want chromium-driver; want systemd
    want libpango-1.0-0; want libpangoft2-1.0-0; want fonts-dejavu-core ;;
  *) echo "usage: $0 demo|test [--dry-run]" >&2; exit 2 ;;
esac
if [ -n "$dry" ]; then
  echo "${need[*]:-}"; exit 0
fi
[ "${#need[@]}" -gt 0 ] || exit 0
echo "installing Debian packages: ${need[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
policy=/usr/sbin/policy-rc.d
held=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# written by accessward scripts/system-deps.sh while it installs packages\nexit 101\n' \
    | "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
  held=1
fi
cleanup() { if [ -n "$held" ]; then "${as_root[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
"$(dirname "$0")/apt-install.sh" "${need[@]}"
units=()
for pkg in "${need[@]}"; do
  case "$pkg" in
    slapd) units+=(slapd) ;;
    samba|samba-ad-dc) units+=(samba-ad-dc smbd nmbd) ;;
  esac
done
for unit in "${units[@]}"; do
  [ -e "/lib/systemd/system/$unit.service" ] || [ -e "/etc/init.d/$unit" ] || continue
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${as_root[@]}" systemctl disable --now "$unit" >/dev/null 2>&1 || true
  else
    "${as_root[@]}" update-rc.d -f "$unit" disable >/dev/null 2>&1 || true
  fi
done
