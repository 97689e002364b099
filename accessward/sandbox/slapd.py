"""A throwaway OpenLDAP server for tests, the demo and benchmarks.

The LDAP side of Accessward is never simulated (DESIGN.md, Simulators): tests run a real
``slapd``. :class:`SlapdServer` writes a ``slapd.conf`` into a temporary directory (schemas core,
cosine, nis, inetorgperson, ``back_mdb``, the ppolicy overlay and, optionally, a small test schema
with the Active Directory attributes), loads LDIF offline with ``slapadd -q`` (100,000 entries in
seconds), starts ``slapd -h ldap://127.0.0.1:<free port>/`` in the foreground, waits until it
accepts binds and stops it by the pid in its pidfile::

    with SlapdServer(base_dn="dc=example,dc=com", size_limit=1000) as server:
        server.start(people_ldif(generate_people(2_500)))
        server.url, server.bind_dn, server.password   # a read-only service account

``bind_dn``/``password`` name an ordinary service account (``cn=reader,<base>``), which is subject
to the server's size limit; the rootdn (``root_dn``/``root_password``) is not, as in slapd.

Seeding many people: :func:`generate_people` yields synthetic :class:`SeedPerson` rows lazily and
:func:`write_people_ldif` streams them to a file, so 100,000 people never sit in memory as one
string; :meth:`SlapdServer.start` accepts that path.

How a seed person's ``status`` is written (and what ``connectors.ldap`` reads back):

* OpenLDAP flavour: ``suspended`` -> ``pwdAccountLockedTime: 000001010000Z`` (ppolicy, locked until
  an administrator clears it); ``terminated`` -> ``shadowExpire`` 30 days in the past (or at
  ``expires``); a future ``expires`` -> ``shadowExpire`` on that day (a planned leave date).
* Active Directory flavour (needs ``ad_schema=True``): ``suspended`` -> ``userAccountControl: 514``
  (ACCOUNTDISABLE); ``terminated`` -> ``accountExpires`` in the past; ``expires`` -> the FILETIME of
  that day; no expiry -> ``accountExpires: 9223372036854775807`` (never).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, Self

from ldap3.utils.dn import escape_rdn

from accessward.sandbox.processes import Launched, read_pid, terminate

if TYPE_CHECKING:
    from accessward.sandbox.customer import Mix

__all__ = [
    "AD_SCHEMA",
    "SeedPerson",
    "SlapdError",
    "SlapdNotInstalledError",
    "SlapdServer",
    "filetime",
    "generate_people",
    "ldif_entry",
    "people_ldif",
    "person_entry",
    "slapd_available",
    "write_people_ldif",
]

Flavor = Literal["openldap", "active_directory"]

_SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/libexec/openldap", "/usr/local/libexec")
_SCHEMA_DIRS = ("/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema")
_MODULE_DIRS = ("/usr/lib/ldap", "/usr/lib64/openldap", "/usr/lib/openldap", "/usr/local/libexec/openldap")
_SCHEMAS = ("core", "cosine", "nis", "inetorgperson")
_INSTALL_HINT = (
    "install OpenLDAP's server and tools, e.g. on Debian: "
    "DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils"
)

#: ppolicy's value for "locked until an administrator unlocks it".
LOCKED_PERMANENTLY = "000001010000Z"
#: Active Directory's "never expires" for accountExpires (0 means never too).
AD_NEVER = 9223372036854775807
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)

#: A small test schema with the Active Directory attributes the AD attribute map reads. The OIDs
#: and syntaxes are AD's (as in OpenLDAP's informational msuser.schema); ``user`` is made
#: AUXILIARY so it can be added to an inetOrgPerson entry. ``memberOf`` is left out when the
#: memberof overlay (which defines it) is loaded.
AD_SCHEMA = """\
# Accessward test schema: the Active Directory attributes its AD attribute map reads.
attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID'
    EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.35 NAME 'employeeID'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
    EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.159 NAME 'accountExpires'
    EQUALITY integerMatch ORDERING integerOrderingMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.210 NAME 'proxyAddresses'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.2.840.113556.1.2.120 NAME 'uSNChanged'
    EQUALITY integerMatch ORDERING integerOrderingMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.141 NAME 'department'
    EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
{member_of}\
objectclass ( 1.2.840.113556.1.5.9 NAME 'user' AUXILIARY
    MAY ( objectGUID $ sAMAccountName $ userPrincipalName $ employeeID $ userAccountControl $
          accountExpires $ proxyAddresses $ uSNChanged $ department {member_of_may}) )
"""
_AD_MEMBER_OF = """\
attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf'
    EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
"""


class SlapdError(RuntimeError):
    """The throwaway slapd could not be configured, loaded or started."""


class SlapdNotInstalledError(SlapdError):
    """slapd / slapadd (or the OpenLDAP schemas and modules) are not installed here."""


def _find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in _SBIN_DIRS:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _find_dir(candidates: Sequence[str], probe: str) -> Path | None:
    for directory in candidates:
        if (Path(directory) / probe).exists():
            return Path(directory)
    return None


@dataclass(frozen=True, slots=True)
class _Installation:
    slapd: str
    slapadd: str
    schema_dir: Path
    module_dir: Path


def _installation() -> _Installation:
    slapd = _find_binary("slapd")
    slapadd = _find_binary("slapadd")
    schema_dir = _find_dir(_SCHEMA_DIRS, "inetorgperson.schema")
    module_dir = _find_dir(_MODULE_DIRS, "back_mdb.la") or _find_dir(_MODULE_DIRS, "back_mdb.so")
    missing = [
        what
        for what, value in (
            ("slapd", slapd),
            ("slapadd", slapadd),
            ("the OpenLDAP schema directory", schema_dir),
            ("the back_mdb module", module_dir),
        )
        if value is None
    ]
    if missing or slapd is None or slapadd is None or schema_dir is None or module_dir is None:
        raise SlapdNotInstalledError(f"cannot find {', '.join(missing)}: {_INSTALL_HINT}")
    return _Installation(slapd, slapadd, schema_dir, module_dir)


def slapd_available() -> bool:
    """True when slapd, slapadd, the standard schemas and back_mdb are all installed."""
    try:
        _installation()
    except SlapdNotInstalledError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ssha(password: str) -> str:
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt, usedforsecurity=False).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


# --------------------------------------------------------------------------------------------- LDIF


def _needs_base64(value: str) -> bool:
    if not value:
        return False
    if value[0] in " :<" or value[-1] == " ":
        return True
    return any(ch in "\r\n\0" or ord(ch) > 126 for ch in value)


def _ldif_line(attr: str, value: str | bytes) -> str:
    if isinstance(value, bytes):
        return f"{attr}:: {base64.b64encode(value).decode()}\n"
    if _needs_base64(value):
        return f"{attr}:: {base64.b64encode(value.encode()).decode()}\n"
    return f"{attr}: {value}\n"


def ldif_entry(dn: str, attributes: Iterable[tuple[str, str | bytes]]) -> str:
    """One LDIF entry (with its trailing blank line); values are base64-encoded when needed.

    Values of one attribute are written together (slapadd wants them contiguous), in the order
    the attribute first appears.
    """
    grouped: dict[str, list[str | bytes]] = {}
    for attr, value in attributes:
        grouped.setdefault(attr, []).append(value)
    out = [_ldif_line("dn", dn)]
    out.extend(_ldif_line(attr, value) for attr, values in grouped.items() for value in values)
    out.append("\n")
    return "".join(out)


def filetime(moment: datetime) -> int:
    """A datetime as Windows FILETIME (100 ns ticks since 1601-01-01 UTC), as AD stores it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def _days_since_epoch(day: date) -> int:
    return (day - date(1970, 1, 1)).days


@dataclass(frozen=True, slots=True)
class SeedPerson:
    """One person to seed into the test directory.

    ``status`` is ``active``, ``suspended`` or ``terminated`` and is written the way a real
    directory records it (see the module docstring). ``expires`` is an account expiry date: in
    the future it is a planned leave date; with ``status="terminated"`` it is when the person
    left (default: 30 days ago). ``manager_uid`` names another seeded person. ``groups`` are
    group DNs written as ``memberOf`` (Active Directory flavour only). ``extra`` adds raw
    attributes (values may be bytes) to the entry.
    """

    uid: str
    given_name: str = ""
    sn: str = ""
    cn: str | None = None
    display_name: str | None = None
    mail: str | None = None
    aliases: tuple[str, ...] = ()
    employee_number: str | None = None
    employee_type: str | None = "employee"
    status: Literal["active", "suspended", "terminated"] = "active"
    expires: date | None = None
    department: str | None = None
    manager_uid: str | None = None
    groups: tuple[str, ...] = ()
    extra: Mapping[str, Sequence[str | bytes]] = field(default_factory=dict)

    @property
    def common_name(self) -> str:
        if self.cn:
            return self.cn
        full = f"{self.given_name} {self.sn}".strip()
        return full or self.uid

    def guid(self) -> uuid.UUID:
        """The deterministic objectGUID the Active Directory flavour gives this person."""
        return uuid.uuid5(uuid.NAMESPACE_URL, f"accessward-seed:{self.uid}")


def _person_dn(uid: str, people_dn: str, flavor: Flavor) -> str:
    rdn_attr = "cn" if flavor == "active_directory" else "uid"
    return f"{rdn_attr}={escape_rdn(uid)},{people_dn}"


def person_entry(
    person: SeedPerson,
    *,
    base_dn: str = "dc=example,dc=com",
    people_ou: str = "people",
    flavor: Flavor = "openldap",
    today: date | None = None,
    upn_suffix: str | None = None,
) -> str:
    """The LDIF entry of one seeded person, in the OpenLDAP or the Active Directory flavour."""
    today = today or datetime.now(UTC).date()
    people_dn = f"ou={people_ou},{base_dn}"
    expires = person.expires
    if person.status == "terminated" and expires is None:
        expires = today - timedelta(days=30)

    attrs: list[tuple[str, str | bytes]] = [
        ("objectClass", "inetOrgPerson"),
        ("uid", person.uid),
        ("cn", person.common_name),
        ("sn", person.sn or person.uid),
    ]
    if person.given_name:
        attrs.append(("givenName", person.given_name))
    if person.display_name:
        attrs.append(("displayName", person.display_name))
    if person.mail:
        attrs.append(("mail", person.mail))
    if person.employee_number:
        attrs.append(("employeeNumber", person.employee_number))
    if person.employee_type:
        attrs.append(("employeeType", person.employee_type))
    if person.manager_uid:
        attrs.append(("manager", _person_dn(person.manager_uid, people_dn, flavor)))

    if flavor == "openldap":
        if person.department:
            attrs.append(("departmentNumber", person.department))
        if person.aliases:
            attrs.extend(("mail", alias) for alias in person.aliases)
        if expires is not None:
            attrs.append(("objectClass", "shadowAccount"))
            attrs.append(("shadowExpire", str(_days_since_epoch(expires))))
        if person.status == "suspended":
            attrs.append(("pwdAccountLockedTime", LOCKED_PERMANENTLY))
    else:
        suffix = upn_suffix or ".".join(
            part.split("=", 1)[1] for part in base_dn.split(",") if part.lower().startswith("dc=")
        )
        attrs.append(("objectClass", "user"))
        attrs.append(("objectGUID", person.guid().bytes_le))
        attrs.append(("sAMAccountName", person.uid))
        attrs.append(("userPrincipalName", f"{person.uid}@{suffix or 'example.com'}"))
        if person.employee_number:
            attrs.append(("employeeID", person.employee_number))
        if person.department:
            attrs.append(("department", person.department))
        attrs.append(("userAccountControl", "514" if person.status == "suspended" else "512"))
        expiry_value = AD_NEVER
        if expires is not None:
            expiry_value = filetime(datetime(expires.year, expires.month, expires.day, tzinfo=UTC))
        attrs.append(("accountExpires", str(expiry_value)))
        if person.mail:
            attrs.append(("proxyAddresses", f"SMTP:{person.mail}"))
        attrs.extend(("proxyAddresses", f"smtp:{alias}") for alias in person.aliases)
        attrs.extend(("memberOf", group) for group in person.groups)

    for attr, values in person.extra.items():
        attrs.extend((attr, value) for value in values)
    return ldif_entry(_person_dn(person.uid, people_dn, flavor), attrs)


def write_people_ldif(
    dest: str | os.PathLike[str] | IO[str],
    people: Iterable[SeedPerson],
    *,
    base_dn: str = "dc=example,dc=com",
    people_ou: str = "people",
    flavor: Flavor = "openldap",
    today: date | None = None,
) -> int:
    """Stream the entries of ``people`` to a file (path or open text file); returns the count.

    Memory stays flat whatever the number of people: entries are written one at a time.
    """
    today = today or datetime.now(UTC).date()
    if isinstance(dest, str | os.PathLike):
        with open(dest, "w", encoding="utf-8", buffering=1 << 20) as handle:
            return write_people_ldif(handle, people, base_dn=base_dn, people_ou=people_ou, flavor=flavor, today=today)
    count = 0
    for person in people:
        dest.write(person_entry(person, base_dn=base_dn, people_ou=people_ou, flavor=flavor, today=today))
        count += 1
    return count


def people_ldif(
    people: Iterable[SeedPerson],
    *,
    base_dn: str = "dc=example,dc=com",
    people_ou: str = "people",
    flavor: Flavor = "openldap",
    today: date | None = None,
) -> str:
    """The LDIF of ``people`` as one string: for small fixtures (use write_people_ldif for many)."""
    buffer = io.StringIO()
    write_people_ldif(buffer, people, base_dn=base_dn, people_ou=people_ou, flavor=flavor, today=today)
    return buffer.getvalue()


def generate_people(
    count: int,
    *,
    start: int = 0,
    domain: str = "example.com",
    today: date | None = None,
    mix: Mix | None = None,
) -> Iterator[SeedPerson]:
    """Yield ``count`` deterministic synthetic people, lazily: ``sandbox.customer.people``.

    ``uid`` is ``u<number:07d>``, mail ``<uid>@<domain>`` (in mixed case for 10 %),
    employee number ``E<number:07d>``. Person ``i`` is managed by person ``i // 10`` (person 0
    has no manager). ``mix`` defaults to ``customer.REALISTIC`` (issue 17's customer): of every
    100, 2 terminated (leavers), 1 suspended, 1 leaving in 30 days; 10 contractors, 5 agency
    staff; 3 with another person's display name. ``customer.LEGACY`` is the old mix.
    """
    from accessward.sandbox import customer

    return customer.people(count, start=start, domain=domain, today=today,
                           mix=customer.REALISTIC if mix is None else mix)


# ------------------------------------------------------------------------------------------- server


@dataclass
class SlapdServer(Launched):
    """A throwaway slapd on 127.0.0.1 with its data in a temporary directory.

    ``size_limit`` caps what an ordinary (non-root) search returns, like Active Directory's
    MaxPageSize: unpaged searches stop there with sizeLimitExceeded while paged searches read
    everything (``size.prtotal=unlimited``). ``paged_total_limit`` caps paged searches too (as
    slapd does by default when only ``sizelimit N`` is set), to prove a client notices a listing
    cut short. ``max_page_size`` rejects larger page requests (``size.pr``). ``None`` means
    unlimited. ``overlays`` are loaded modules + overlays on the database (``ppolicy`` by default,
    so ``pwdAccountLockedTime`` exists); ``ad_schema`` adds :data:`AD_SCHEMA`.
    """

    base_dn: str = "dc=example,dc=com"
    password: str = "reader-secret"
    root_password: str = "root-secret"
    size_limit: int | None = None
    paged_total_limit: int | None = None
    max_page_size: int | None = None
    ad_schema: bool = False
    overlays: tuple[str, ...] = ("ppolicy",)
    people_ou: str = "people"
    workdir: Path | None = None
    start_timeout: float = 15.0
    # (ca_file, cert_file, key_file): serve StartTLS on the ldap:// port and LDAPS on ``ldaps_port``.
    tls_files: tuple[Path, Path, Path] | None = None

    port: int = field(default=0, init=False)
    ldaps_port: int = field(default=0, init=False)
    _dir: Path | None = field(default=None, init=False, repr=False)
    _own_dir: bool = field(default=False, init=False, repr=False)
    _loaded: bool = field(default=False, init=False, repr=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    # -- names -----------------------------------------------------------------------------------

    def _ldaps(self) -> int:
        if not self.ldaps_port:
            self.ldaps_port = _free_port()
        return self.ldaps_port

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    @property
    def url(self) -> str:
        if not self.port:
            raise SlapdError("slapd has not been started")
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def bind_dn(self) -> str:
        """A read-only service account, subject to the size limit (the rootdn is not)."""
        return f"cn=reader,{self.base_dn}"

    @property
    def root_dn(self) -> str:
        return f"cn=admin,{self.base_dn}"

    @property
    def people_dn(self) -> str:
        return f"ou={self.people_ou},{self.base_dn}"

    @property
    def groups_dn(self) -> str:
        return f"ou=groups,{self.base_dn}"

    @property
    def directory(self) -> Path:
        if self._dir is None:
            raise SlapdError("slapd has not been started")
        return self._dir

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, ldif: str | os.PathLike[str] | None = None) -> Self:
        """Configure, load ``ldif`` (LDIF text, or a path to an LDIF file) and start serving.

        The base entry, ``ou=people``, ``ou=groups`` and the reader account are always loaded
        first. Calling start again after ``stop(keep_data=True)`` restarts on the same port with
        the same data (``ldif`` is then loaded offline before the restart).
        """
        if self.running:
            raise SlapdError("slapd is already running")
        install = _installation()
        if self._dir is None:
            if self.workdir is not None:
                self.workdir.mkdir(parents=True, exist_ok=True)
                self._dir = Path(tempfile.mkdtemp(prefix="slapd-", dir=self.workdir))
            else:
                self._dir = Path(tempfile.mkdtemp(prefix="accessward-slapd-"))
            self._own_dir = True
            (self._dir / "db").mkdir()
            self._write_config(install)
        try:
            if not self._loaded:
                self._slapadd(install, self._skeleton())
                self._loaded = True
            if ldif is not None:
                self._slapadd(install, ldif)
            self._launch(install)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, *, keep_data: bool = False) -> None:
        """Stop slapd (SIGTERM to the pid in its pidfile, then SIGKILL) and remove its directory.

        With ``keep_data`` the directory stays so that :meth:`start` can serve it again.
        """
        pid: int | None = None
        if self._dir is not None:
            pid = read_pid(self._dir / "slapd.pid")
        if pid is None and self._proc is not None and self._proc.poll() is None:
            pid = self._proc.pid
        if pid is not None:
            terminate(pid, timeout=10.0, proc=self._proc)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5.0)
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait(timeout=5.0)
            self._proc = None
        if self._dir is not None:
            with contextlib.suppress(FileNotFoundError):
                (self._dir / "slapd.pid").unlink()
            if not keep_data:
                if self._own_dir:
                    shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None
                self._loaded = False

    # -- internals -------------------------------------------------------------------------------

    def _limits(self) -> str:
        if self.size_limit is None and self.paged_total_limit is None and self.max_page_size is None:
            return "sizelimit unlimited"
        size = "unlimited" if self.size_limit is None else str(self.size_limit)
        total = "unlimited" if self.paged_total_limit is None else str(self.paged_total_limit)
        parts = [f"size.soft={size}", f"size.hard={size}", f"size.prtotal={total}"]
        if self.max_page_size is not None:
            parts.append(f"size.pr={self.max_page_size}")
        return "sizelimit " + " ".join(parts)

    def _write_config(self, install: _Installation) -> None:
        directory = self.directory
        includes = [f"include {install.schema_dir / name}.schema" for name in _SCHEMAS]
        if self.ad_schema:
            with_member_of = "memberof" not in self.overlays
            schema = AD_SCHEMA.replace("{member_of}", _AD_MEMBER_OF if with_member_of else "").replace(
                "{member_of_may}", "$ memberOf " if with_member_of else ""
            )
            (directory / "ad.schema").write_text(schema)
            includes.append(f"include {directory / 'ad.schema'}")
        tls = []
        if self.tls_files is not None:
            ca, cert, key = self.tls_files
            tls = [f"TLSCACertificateFile {ca}", f"TLSCertificateFile {cert}", f"TLSCertificateKeyFile {key}"]
        lines = [
            *includes,
            *tls,
            f"pidfile {directory / 'slapd.pid'}",
            f"argsfile {directory / 'slapd.args'}",
            f"modulepath {install.module_dir}",
            "moduleload back_mdb",
            *(f"moduleload {overlay}" for overlay in self.overlays),
            "",
            "database mdb",
            "maxsize 4294967296",
            f'suffix "{self.base_dn}"',
            f'rootdn "{self.root_dn}"',
            f"rootpw {_ssha(self.root_password)}",
            f"directory {directory / 'db'}",
            self._limits(),
            "index objectClass eq",
            "index uid,mail,employeeNumber,entryUUID eq",
            *(f"overlay {overlay}" for overlay in self.overlays),
            "access to attrs=userPassword by self write by anonymous auth by * none",
            "access to * by * read",
            "",
        ]
        (directory / "slapd.conf").write_text("\n".join(lines))

    def _skeleton(self) -> str:
        first = self.base_dn.split(",", 1)[0]
        attr, _, value = first.partition("=")
        attr = attr.strip().lower()
        if attr == "dc":
            base: list[tuple[str, str | bytes]] = [
                ("objectClass", "dcObject"),
                ("objectClass", "organization"),
                ("dc", value),
                ("o", value),
            ]
        elif attr == "o":
            base = [("objectClass", "organization"), ("o", value)]
        elif attr == "ou":
            base = [("objectClass", "organizationalUnit"), ("ou", value)]
        else:
            raise SlapdError(f"base DN must start with dc=, o= or ou=: {self.base_dn!r}")
        return "".join(
            [
                ldif_entry(self.base_dn, base),
                ldif_entry(self.people_dn, [("objectClass", "organizationalUnit"), ("ou", self.people_ou)]),
                ldif_entry(self.groups_dn, [("objectClass", "organizationalUnit"), ("ou", "groups")]),
                ldif_entry(
                    self.bind_dn,
                    [
                        ("objectClass", "organizationalRole"),
                        ("objectClass", "simpleSecurityObject"),
                        ("cn", "reader"),
                        ("userPassword", _ssha(self.password)),
                    ],
                ),
            ]
        )

    def _slapadd(self, install: _Installation, ldif: str | os.PathLike[str]) -> None:
        directory = self.directory
        if isinstance(ldif, str) and "\n" not in ldif and ldif and Path(ldif).is_file():
            ldif = Path(ldif)
        if isinstance(ldif, str):
            path = directory / "load.ldif"
            path.write_text(ldif, encoding="utf-8")
        else:
            path = Path(ldif)
            if not path.is_file():
                raise SlapdError(f"LDIF file not found: {path}")
        done = subprocess.run(
            [install.slapadd, "-q", "-f", str(directory / "slapd.conf"), "-l", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if isinstance(ldif, str):
            path.unlink()
        if done.returncode != 0:
            raise SlapdError(f"slapadd failed ({done.returncode}): {done.stderr.strip()[-2000:]}")

    def _launch(self, install: _Installation) -> None:
        directory = self.directory
        attempts = 1 if self.port else 3  # a restart keeps its port (and URL)
        last_error = ""
        for _ in range(attempts):
            port = self.port or _free_port()
            log_path = directory / "slapd.log"
            with open(log_path, "wb") as log:
                self._proc = subprocess.Popen(
                    [
                        install.slapd,
                        "-d",
                        "0",  # stay in the foreground; log errors to stderr
                        "-f",
                        str(directory / "slapd.conf"),
                        "-h",
                        f"ldap://127.0.0.1:{port}/" + (
                            f" ldaps://127.0.0.1:{self._ldaps()}/" if self.tls_files is not None else ""),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            if self._wait_ready(port):
                self.port = port
                return
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None
            last_error = log_path.read_text(errors="replace").strip()[-2000:]
        raise SlapdError(f"slapd did not start: {last_error or 'no output'}")

    def _wait_ready(self, port: int) -> bool:
        """Poll until an anonymous bind succeeds, the process dies, or the timeout passes."""
        from ldap3 import NONE, Connection, Server

        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            try:
                # A fresh Server each time: ldap3 marks a refused address unusable for seconds.
                server = Server("127.0.0.1", port=port, connect_timeout=1, get_info=NONE)
                conn = Connection(server, receive_timeout=2)
                if conn.bind():
                    conn.unbind()
                    return True
            except Exception:  # noqa: S110 - not accepting connections yet
                pass
            time.sleep(0.05)
        return False
