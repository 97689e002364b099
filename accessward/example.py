"""The commented example written by ``accessward init``."""

EXAMPLE = '''\
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

[policy.offboarding]
disable_account = false       # also disable the IdP account (sessions always end)

# --- Identity sources: who works here, and who has left -------------------------------------
[[identity_sources]]
name = "corp-ldap"
type = "ldap"
url = "ldaps://ldap.example.com:636"
bind_dn = "cn=accessward,ou=services,dc=example,dc=com"
bind_password = { env = "ACCESSWARD_LDAP_PASSWORD" }
base_dn = "ou=people,dc=example,dc=com"
directory = "openldap"            # or "active_directory"
# user_filter = "(objectClass=inetOrgPerson)"   # the default for OpenLDAP
page_size = 500                   # Active Directory caps pages at 1000
# ca_file = "ca.pem"              # verify ldaps:// or start_tls against this CA
# Account state comes from ppolicy/shadowExpire (OpenLDAP) or userAccountControl/accountExpires
# (AD). A site-specific employment status can be added:
# status_attribute = "employeeType"
# status_values = { former = "terminated", leaver = "terminated", "on-leave" = "suspended" }

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

# --- Policy -------------------------------------------------------------------------------------
[policy]
# A plan above either threshold stops before the first revocation and waits for
# `accessward approve PLAN --by NAME`.
max_revocations = 25
max_revocation_share = 0.10
min_revocations_for_share = 5
# Data older than this is not acted on; a source whose count drops by more than max_drop
# against its last good run is quarantined until `accessward sync confirm RUN`.
stale_after_hours = 36
max_drop = 0.30
# Accounts that are never revoked: "system:account-id", an account id, or an email.
break_glass = []

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
