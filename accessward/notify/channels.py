"""Sending one notification: SMTP mail, a Slack incoming webhook, a Teams Workflows webhook.

A send either returns (the channel accepted it) or raises :class:`SendError` saying whether trying
again can help (``permanent``). Errors never carry a secret: the SMTP password is only handed to
``login``, and a webhook URL (its path is the credential) is cut out of every message.

Mail carries a ``Message-ID`` made from the notification's dedup key, the same on every attempt, so a
message resent after a crash between "the server accepted it" and "we marked it sent" is the same
message to every mail system (receivers and archives drop the duplicate).
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

import httpx

from accessward.settings import ChannelSettings, EmailChannel, WebhookChannel


@dataclass(frozen=True)
class Outgoing:
    """What a channel sends: the notification as stored, with its absolute console link."""

    id: int
    dedup_key: str
    event: str
    title: str
    body: str
    link: str
    facts: dict[str, str]
    recipients: tuple[str, ...]


class SendError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    def send(self, note: Outgoing) -> None: ...


def message_id(note: Outgoing) -> str:
    return f"<{hashlib.sha256(note.dedup_key.encode()).hexdigest()[:32]}@accessward.notification>"


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


class EmailSender:
    def __init__(self, cfg: EmailChannel) -> None:
        self.cfg = cfg

    def compose(self, note: Outgoing) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"[Accessward] {note.title}"
        msg["From"] = self.cfg.sender
        msg["To"] = ", ".join(dict.fromkeys([*self.cfg.to, *note.recipients]))
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = message_id(note)
        msg["X-Accessward-Event"] = note.event
        facts = "".join(f"  {k}: {v}\n" for k, v in note.facts.items() if v)
        msg.set_content(f"{note.body}\n\n{facts}\nAct on it: {note.link}\n")
        return msg

    def send(self, note: Outgoing) -> None:
        cfg = self.cfg
        try:
            if cfg.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_seconds,
                                                        context=_tls_context(cfg.ca_file))
            else:
                client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
            with client:
                client.ehlo()
                if cfg.security == "starttls":
                    if not client.has_extn("starttls"):
                        raise SendError(f"{cfg.host}:{cfg.port} does not offer STARTTLS; refusing to send in the "
                                        "clear", permanent=False)
                    client.starttls(context=_tls_context(cfg.ca_file))
                    client.ehlo()
                if cfg.username is not None and cfg.password is not None:
                    client.login(cfg.username, cfg.password.resolve())
                refused = client.send_message(self.compose(note))
                if refused:
                    raise SendError(f"recipients refused: {', '.join(sorted(refused))}", permanent=True)
        except SendError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"SMTP authentication failed ({exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            raise SendError(f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}",
                            permanent=500 <= exc.smtp_code < 600) from None
        except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise SendError(f"{cfg.host}:{cfg.port}: {type(exc).__name__}: {exc}") from None


def _text(value: bytes | str) -> str:
    return (value.decode(errors="replace") if isinstance(value, bytes) else value)[:300]


def slack_payload(note: Outgoing) -> dict[str, Any]:
    facts = [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in note.facts.items() if v][:10]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": note.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": note.body[:2900]}},
    ]
    if facts:
        blocks.append({"type": "section", "fields": facts})
    blocks.append({"type": "actions", "elements": [
        {"type": "button", "text": {"type": "plain_text", "text": "Open in Accessward"}, "url": note.link}]})
    return {"text": f"{note.title}: {note.link}", "blocks": blocks}


def teams_payload(note: Outgoing) -> dict[str, Any]:
    """A message with one Adaptive Card, as a Teams Workflows ("When a Teams webhook request is received") takes."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": note.title, "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": note.body, "wrap": True},
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in note.facts.items() if v]},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open in Accessward", "url": note.link}],
    }
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


class WebhookSender:
    def __init__(self, cfg: WebhookChannel) -> None:
        self.cfg = cfg

    def send(self, note: Outgoing) -> None:
        url = self.cfg.url.resolve()
        payload = slack_payload(note) if self.cfg.type == "slack" else teams_payload(note)
        try:
            verify: ssl.SSLContext | bool = _tls_context(self.cfg.ca_file) if self.cfg.ca_file else True
            response = httpx.post(url, json=payload, timeout=self.cfg.timeout_seconds, verify=verify,
                                  follow_redirects=False, headers={"Idempotency-Key": message_id(note)})
        except httpx.HTTPError as exc:
            raise SendError(_scrub(f"{self.cfg.type} webhook: {type(exc).__name__}: {exc}", url)) from None
        if 200 <= response.status_code < 300:
            return
        detail = _scrub(response.text[:300], url)
        retry = response.status_code == 429 or response.status_code >= 500
        raise SendError(f"{self.cfg.type} webhook answered {response.status_code}: {detail}", permanent=not retry)


def _scrub(text: str, url: str) -> str:
    """Cut the webhook URL (and its path, the credential) out of a message."""
    parsed = httpx.URL(url)
    for secret in {url, str(parsed.path), parsed.raw_path.decode(errors="ignore")}:
        if len(secret) > 1:
            text = text.replace(secret, "[webhook-url]")
    return text


def sender_for(cfg: ChannelSettings) -> Sender:
    return EmailSender(cfg) if isinstance(cfg, EmailChannel) else WebhookSender(cfg)
