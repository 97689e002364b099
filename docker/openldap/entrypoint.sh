#!/bin/sh
# Start slapd as the unprivileged openldap user on port 1389. The configuration (slapd.conf, with the
# admin password hashed) is written on every start; the database is seeded from seed.ldif only when
# the data directory is empty. Secrets come from the environment and are never written in clear.
set -eu
: "${LDAP_ADMIN_PASSWORD:?set LDAP_ADMIN_PASSWORD}"
: "${LDAP_READER_PASSWORD:?set LDAP_READER_PASSWORD}"
BASE_DN="${LDAP_BASE_DN:-dc=example,dc=com}"
DATA="${LDAP_DATA_DIR:-/var/lib/ldap}"
SCHEMA="${LDAP_SCHEMA_DIR:-/etc/ldap/schema}"
MODULES="${LDAP_MODULE_DIR:-/usr/lib/ldap}"
SEED="${LDAP_SEED:-/opt/openldap/seed.ldif}"
PORT="${LDAP_PORT:-1389}"
DC=$(printf '%s' "$BASE_DN" | sed -e 's/^dc=\([^,]*\).*/\1/')

mkdir -p "$DATA/db" "$DATA/run"
umask 077
cat > "$DATA/run/slapd.conf" <<CONF
include $SCHEMA/core.schema
include $SCHEMA/cosine.schema
include $SCHEMA/nis.schema
include $SCHEMA/inetorgperson.schema
pidfile $DATA/run/slapd.pid
argsfile $DATA/run/slapd.args
modulepath $MODULES
moduleload back_mdb
database mdb
maxsize 1073741824
suffix "$BASE_DN"
rootdn "cn=admin,$BASE_DN"
rootpw $(slappasswd -s "$LDAP_ADMIN_PASSWORD")
directory $DATA/db
index objectClass eq
index uid,mail,employeeNumber,entryUUID eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by dn.exact="cn=reader,$BASE_DN" read by * none
CONF

if [ ! -e "$DATA/db/data.mdb" ]; then
    {
        printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: %s\no: %s\n\n' "$BASE_DN" "$DC" "$DC"
        printf 'dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n' "$BASE_DN"
        printf 'dn: cn=reader,%s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n' "$BASE_DN"
        printf 'cn: reader\nuserPassword: %s\n\n' "$(slappasswd -s "$LDAP_READER_PASSWORD")"
        sed -e '/^#/d' -e "s/dc=example,dc=com/$BASE_DN/g" "$SEED"
    } | slapadd -f "$DATA/run/slapd.conf" -q
    echo "openldap: seeded $BASE_DN from $SEED"
fi
exec slapd -f "$DATA/run/slapd.conf" -h "ldap://0.0.0.0:$PORT/" -d "${LDAP_DEBUG:-0}"
