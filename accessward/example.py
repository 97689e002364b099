"""The commented example written by ``accessward init``: one per kind of directory.

An AD shop should not have to discover ``directory = "active_directory"``, nor an Entra shop that
its directory is an app registration and not LDAP: ``init`` asks (or takes ``--directory``), and
writes the identity source for that directory, with what that directory needs said beside it.
"""

from __future__ import annotations

from typing import Literal

DirectoryKind = Literal["openldap", "active_directory", "entra"]
DIRECTORY_NAMES: dict[str, str] = {"openldap": "OpenLDAP", "active_directory": "Active Directory",
                                   "entra": "Entra ID (Azure AD)"}

TEMPLATE = '''\
# Accessward settings. Secrets are never written here: give { env = "NAME" } or { file = "/path" }.
# Validate with: accessward plan   (errors name this file, the line and the field)

[store]
# SQLite by default (relative to this file); set ACCESSWARD_DATABASE_URL for PostgreSQL,
# e.g. postgresql+psycopg://accessward@db/accessward
url = "sqlite:///accessward.db"

[reports]
directory = "reports"

# `accessward serve`: the HTTP API and the scheduled jobs.
[service]
host = "127.0.0.1"
port = 8080
# HR's signed offboarding webhook: HMAC-SHA256 over "<timestamp>.<body>" with this secret.
# hr_webhook_secret = { env = "ACCESSWARD_HR_WEBHOOK_SECRET" }
timezone = "UTC"
nightly = "0 2 * * *"         # full sync + reconcile + apply (crontab)
sync_every_minutes = 60       # incremental syncs in between (0: none)

# The web console at / logs people in with your IdP (OIDC, authorization code + PKCE); roles come from
# the IdP's group claim. The redirect URI to register is <base_url>/auth/callback.
# [console]
# issuer = "https://login.microsoftonline.com/<tenant>/v2.0"
# client_id = "accessward"
# client_secret = { env = "ACCESSWARD_OIDC_SECRET" }
# base_url = "https://accessward.example.com"
# session_secret = { env = "ACCESSWARD_SESSION_SECRET" }   # the same on every instance
# roles = { approver = ["grp-ciso-office"], reviewer = ["grp-managers"], hr = ["grp-hr"], auditor = ["grp-audit"] }

[policy.offboarding]
disable_account = false       # also disable the IdP account (sessions always end)

# --- Identity sources: who works here, and who has left -------------------------------------
@DIRECTORY@
# An agency's roster (its current staff) is an identity source too:
# [[identity_sources]]
# name = "brightside-roster"
# type = "roster_csv"              # or "roster_json" with url = "..." and token = { env = "..." }
# path = "rosters/brightside.csv"  # columns: email, name, employee_id, active

# --- Access sources: who can act as the brand ---------------------------------------------------
[[access_sources]]
name = "meta"
type = "meta"
base_url = "https://graph.facebook.com/v21.0"
business_id = "1234567890"
access_token = { env = "ACCESSWARD_META_TOKEN" }   # a system-user token with business_management

# --- People who approve, review and accept risks --------------------------------------------------
# Each gets personal tokens: accessward token create --principal alice --role approver --name alice-laptop
# [[principals]]
# id = "alice"                      # stable: an employee id is a good choice
# name = "Alice Approver"
# email = "alice@example.com"
# person_key = "E1001"              # finds her own records in the directory (never her own approver)

# --- Notifications: who is told what, with a link to the console page that acts on it -----------
# Events: plan.needs_approval, review.assigned, review.due_soon, review.overdue, offboarding.partial,
# offboarding.unmatched, source.failing, source.quarantined, device.lost. Check a channel with
# `accessward notify test NAME`; `accessward serve` delivers (and retries) every check_seconds.
# [notifications]
# base_url = "https://accessward.example.com"
# source_failures = 3                       # a source failing this many runs in a row is reported
#
# [notifications.channels.security-mail]
# type = "email"
# host = "smtp.example.com"
# port = 587                                # STARTTLS (security = "tls" for port 465)
# username = "accessward"
# password = { env = "ACCESSWARD_SMTP_PASSWORD" }
# from = "accessward@example.com"
# to = ["it-security@example.com"]
#
# [notifications.channels.secops-slack]
# type = "slack"                            # a Slack incoming webhook; the URL is a secret
# url = { env = "ACCESSWARD_SLACK_WEBHOOK" }
#
# [notifications.channels.secops-teams]
# type = "teams"                            # a Teams Workflows webhook (posts an Adaptive Card)
# url = { env = "ACCESSWARD_TEAMS_WEBHOOK" }
#
# [notifications.events]
# "plan.needs_approval" = ["security-mail", "secops-teams"]
# "offboarding.partial" = ["security-mail"]
# "offboarding.unmatched" = ["security-mail"]
# "source.failing" = ["secops-slack"]
# "source.quarantined" = ["secops-slack"]
# "device.lost" = ["security-mail", "secops-slack"]
# "review.assigned" = ["security-mail"]     # also mailed to the reviewer
# "review.overdue" = ["security-mail"]

# --- Policy -------------------------------------------------------------------------------------
[policy]
# A plan above either threshold stops before the first revocation and waits for
# `accessward approve PLAN` with a personal token (ACCESSWARD_TOKEN or --token).
max_revocations = 25
max_revocation_share = 0.10
min_revocations_for_share = 5
# Data older than this is not acted on; a source whose count drops by more than max_drop
# against its last good run is quarantined until `accessward sync confirm RUN`.
stale_after_hours = 36
max_drop = 0.30
# Accounts that are never revoked: "system:account-id", an account id, or an email.
break_glass = []
# Four-eyes: whoever started a plan cannot approve it, and nobody decides on their own access.
# (A plan the scheduler built may be approved by any approver; an HR offboarding is HR's decision.)
four_eyes = true

# The highest level people may hold, by group (DN or name), kind or department. The most
# restrictive match wins; the role_ceiling rule flags anything above it.
# role_ceilings = [
#   { match = "group:Interns", max_level = "needs_approval" },
#   { match = "kind:contractor", max_level = "full_publishing" },
# ]

# Agency engagements: partner accounts, staff email domains, assets in scope, highest role, dates.
# [[policy.agencies]]
# name = "Brightside"
# sponsor = "alex.morgan@example.com"
# partner_accounts = ["meta:987654321"]          # system:account-id of the partner business
# email_domains = ["brightside.agency"]
# assets = ["meta:200000000000001"]              # system:resource-id; empty means every asset
# max_level = "full_publishing"
# start = 2026-01-01
# end = 2026-12-31
# roster_source = "brightside-roster"

# Every rule starts flag-only. Switch revocation on per rule once you trust the findings.
[policy.rules.orphaned]   # leavers, disabled accounts, people not in any directory
action = "flag"          # "flag" | "revoke"
# severity = "high"      # unset: follows the risk (reason, level, account kind); set: overrides
grace_days = 0           # days after the leave date before revoking

[policy.rules.agency]         # agency access outside an active engagement
action = "flag"
# severity = "high"

[policy.rules.mfa_required]   # two-factor off on the network
action = "flag"
# severity = "medium"

[policy.rules.sso_required]   # native logins instead of SSO
action = "flag"
# severity = "medium"

[policy.rules.role_ceiling]   # a role above what the person's group may hold
action = "flag"
# severity = "high"

[policy.rules.dormant]        # access unused for `days`
action = "flag"
# severity = "low"
days = 90
'''

DIRECTORIES: dict[str, str] = {
    "openldap": '''\
[[identity_sources]]
name = "corp-ldap"
type = "ldap"
directory = "openldap"
url = "ldaps://ldap.example.com:636"
bind_dn = "cn=accessward,ou=services,dc=example,dc=com"
bind_password = { env = "ACCESSWARD_LDAP_PASSWORD" }
base_dn = "ou=people,dc=example,dc=com"
# user_filter = "(objectClass=inetOrgPerson)"   # the default
page_size = 500
# ca_file = "ca.pem"              # verify ldaps:// or start_tls against this CA
# start_tls = true                # for ldap://
# Account state comes from ppolicy (pwdAccountLockedTime) and shadowExpire. Incremental runs use
# modifyTimestamp, which cannot see deletions: a full run happens at least every full_every_hours.
# full_every_hours = 24
# A site-specific employment status can be added:
# status_attribute = "employeeType"
# status_values = { former = "terminated", leaver = "terminated", "on-leave" = "suspended" }
''',
    "active_directory": '''\
[[identity_sources]]
name = "corp-ad"
type = "ldap"
directory = "active_directory"
url = "ldaps://dc01.corp.example.com:636"
bind_dn = "CN=svc-accessward,OU=Service Accounts,DC=corp,DC=example,DC=com"
bind_password = { env = "ACCESSWARD_AD_PASSWORD" }
base_dn = "OU=Staff,DC=corp,DC=example,DC=com"
# user_filter = "(&(objectCategory=person)(objectClass=user))"   # the default for AD
page_size = 1000                  # Active Directory caps pages at 1000 (MaxPageSize)
# ca_file = "corp-root-ca.pem"    # verify ldaps:// against the enterprise CA
# People are matched on objectGUID; account state comes from userAccountControl and accountExpires.
# Incremental runs use uSNChanged; deletions are read from the Deleted Objects container, which the
# bind account must be allowed to list (or set deleted_objects = false: a full run finds them).
# deleted_objects = true
# status_attribute = "extensionAttribute1"
# status_values = { former = "terminated", "on-leave" = "suspended" }
''',
    "entra": '''\
[[identity_sources]]
name = "entra"
type = "entra"
tenant_id = "00000000-0000-0000-0000-000000000000"
client_id = "11111111-1111-1111-1111-111111111111"   # an app registration
client_secret = { env = "ACCESSWARD_ENTRA_CLIENT_SECRET" }
# Application permissions: User.Read.All (people), UserAuthenticationMethod.Read.All (posture),
# User-LifeCycleInfo.Read.All (leave dates); for offboarding and lost devices also
# User.RevokeSessions.All and UserAuthenticationMethod.ReadWrite.All.
posture = true                    # read MFA methods for the mfa_required rule
leave_dates = true                # employeeLeaveDateTime
guests = "disable"                # what offboarding does to a B2B guest: "disable" | "delete"
# authority_host = "https://login.microsoftonline.us"   # national clouds
# graph_url = "https://graph.microsoft.us/v1.0"
''',
}


def render(directory: DirectoryKind = "openldap") -> str:
    """The example settings with the identity source of this kind of directory."""
    return TEMPLATE.replace("@DIRECTORY@\n", DIRECTORIES[directory])


EXAMPLE = render("openldap")
