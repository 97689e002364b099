"""Notifications: mail (SMTP) and chat webhooks (Slack, Microsoft Teams) about what people must act on.

The audit trail is the source (:mod:`.events`): every event worth telling someone about is
already recorded there, so no other code calls this package. :func:`.outbox.scan` turns new audit
events into notifications, one per configured channel, in the same transaction as it moves its
cursor; :func:`.outbox.deliver` sends what is due (:mod:`.channels`) and marks it.
"""
