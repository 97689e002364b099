#!/usr/bin/env bash
# The Debian packages the tests and the demo run for real: OpenLDAP's slapd (with ldapsearch,
# used by the benchmark) and PostgreSQL. Installed only when missing.
set -euo pipefail
need=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  "$(dirname "$0")/apt-install.sh" "${need[@]}"
fi
