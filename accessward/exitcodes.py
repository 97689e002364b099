"""Exit codes that mean something to a scheduler or a script."""

OK = 0
ERROR = 1  # unexpected failure
CONFIG = 2  # bad settings or usage
NEEDS_APPROVAL = 3  # a plan stopped at the revocation threshold and waits for approval
SOURCE_FAILED = 4  # a sync failed or was quarantined; its data was left as it was
ACTION_FAILED = 5  # some revocations failed or were stopped; see the outbox
AUDIT_BROKEN = 6  # the audit chain does not verify
STORE_UNAVAILABLE = 7  # the store (PostgreSQL, or the SQLite file) cannot be opened; nothing was done
CHECK_MISSING = 8  # accessward check: a permission the settings or the policy rely on is missing
