#!/usr/bin/env bash
# The Debian packages the tests and the demo run for real: OpenLDAP's slapd (with ldapsearch,
# used by the benchmark), PostgreSQL and Samba's AD domain controller (samba + samba-tool; the
# AD DC's database modules come with samba-ad-dc, the schema files `samba-tool domain provision`
# reads with samba-ad-provision; tests/connectors/test_samba_ad.py). Installed only when missing.
set -euo pipefail
need=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
{ command -v samba-tool >/dev/null 2>&1 && [ -x /usr/sbin/samba ]; } || need+=(samba)
dpkg-query -W -f='${Status}' samba-ad-dc 2>/dev/null | grep -q 'ok installed' || need+=(samba-ad-dc)
[ -d /usr/share/samba/setup/ad-schema ] || need+=(samba-ad-provision)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  "$(dirname "$0")/apt-install.sh" "${need[@]}"
fi
