"""Outbound channels. Each turns an alarm message into its own documented format (pure
functions, easy to check) and sends it; a failure raises, so the outbox retries it.

- webhook: JSON, signed: X-Pingan-Signature = "sha256=" + HMAC-SHA256(secret, f"{ts}.{body}")
- wecom: 企业微信群机器人 markdown message, {"msgtype": "markdown", "markdown": {"content": …}}
- dingtalk: 钉钉群机器人 markdown message; with a secret, timestamp and sign on the URL
  (sign = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")))
- email: plain-text mail over SMTP
- sms: Alibaba Cloud, Tencent Cloud or an HTTP gateway of one's own (notify/sms.py); the demo's
  sender writes it to the log, and the outbox says "logged"
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.parse
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

from pingan.alarms.notify.sms import SENT, Sms, SmsError, SmsSender, make_sender
from pingan.alarms.rules import Channel
from pingan.config import Settings

log = logging.getLogger("pingan.notify")
TIMEOUT_S = 10


VERBS = {
    "alarm.escalated": "升级",
    "task.offered": "派单，请接单",
    "channel.test": "测试",
    "incident.changed": "事件进展",
    "incident.reminded": "事件临期",
    "incident.overdue": "事件超期",
    "incident.escalated": "事件超期督办",
}


@dataclass(frozen=True)
class AlarmMessage:
    """What every channel says about an alarm."""

    event: str  # alarm.raised | alarm.escalated | task.offered (to a responder)
    alarm_id: int
    priority: int
    category: str
    title: str
    state: str
    level: int
    place: str  # 鱼凫路社区 / 柳欣苑
    raised_at: str
    link: str

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    @property
    def headline(self) -> str:
        verb = VERBS.get(self.event, "报警")
        return f"[P{self.priority} {verb}] {self.title}"

    def lines(self) -> list[str]:
        return [
            self.headline,
            f"地点：{self.place}",
            f"时间：{self.raised_at}",
            f"状态：{self.state}",
            f"详情：{self.link}",
        ]


class DeliveryError(RuntimeError):
    pass


def webhook_request(
    channel: Channel, msg: AlarmMessage, now: float | None = None
) -> tuple[bytes, dict[str, str]]:
    about = "incident" if msg.event.startswith("incident.") else "alarm"
    body = json.dumps({"type": msg.event, about: msg.as_dict()}, ensure_ascii=False).encode()
    ts = str(int(now if now is not None else time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Pingan-Timestamp": ts,
        "X-Pingan-Event": msg.event,
    }
    if channel.secret:
        mac = hmac.new(
            channel.secret.encode(), ts.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        headers["X-Pingan-Signature"] = f"sha256={mac}"
    return body, headers


def wecom_body(channel: Channel, msg: AlarmMessage) -> dict[str, Any]:
    content = "\n".join(
        [
            f'**<font color="warning">{msg.headline}</font>**',
            *[f"> {line}" for line in msg.lines()[1:]],
        ]
    )
    if channel.mention:
        content += "\n" + " ".join(f"<@{m}>" for m in channel.mention)
    return {"msgtype": "markdown", "markdown": {"content": content}}


def dingtalk_url(channel: Channel, now_ms: int | None = None) -> str:
    assert channel.url is not None
    if not channel.secret:
        return channel.url
    ts = str(now_ms if now_ms is not None else int(time.time() * 1000))
    mac = hmac.new(
        channel.secret.encode(), f"{ts}\n{channel.secret}".encode(), hashlib.sha256
    ).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(mac))
    return f"{channel.url}{'&' if '?' in channel.url else '?'}timestamp={ts}&sign={sign}"


def dingtalk_body(channel: Channel, msg: AlarmMessage) -> dict[str, Any]:
    text = "\n\n".join([f"### {msg.headline}", *msg.lines()[1:]])
    if channel.mention:
        text += "\n\n" + " ".join(f"@{m}" for m in channel.mention)
    return {
        "msgtype": "markdown",
        "markdown": {"title": msg.headline, "text": text},
        "at": {"atMobiles": list(channel.mention), "isAtAll": False},
    }


def email_message(channel: Channel, msg: AlarmMessage, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = msg.headline
    mail["From"] = sender
    mail["To"] = ", ".join(channel.to)
    mail.set_content("\n".join(msg.lines()) + "\n\n—— 平安社区智能化监管平台\n")
    return mail


def _check_robot_answer(response: httpx.Response, who: str) -> None:
    response.raise_for_status()
    try:
        answer = response.json()
    except ValueError as exc:
        raise DeliveryError(f"{who}: answer is not JSON") from exc
    if answer.get("errcode") not in (0, None):
        raise DeliveryError(f"{who}: errcode {answer.get('errcode')}: {answer.get('errmsg')}")


class Sender:
    def __init__(self, settings: Settings, sms: SmsSender | None = None) -> None:
        self.settings = settings
        self.http = httpx.Client(timeout=TIMEOUT_S, trust_env=False)
        self.sms = sms or make_sender(settings, self.http)

    def close(self) -> None:
        self.http.close()

    def send(self, channel: Channel, msg: AlarmMessage) -> str:
        """Deliver; "sent", or "logged" where the message only went to the log (the demo's SMS)."""
        try:
            outcome: str | None = getattr(self, f"_{channel.type}")(channel, msg)
            return outcome or SENT
        except SmsError as exc:
            raise DeliveryError(f"sms {channel.id}: {exc}") from exc
        except (httpx.HTTPError, httpx.InvalidURL, OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"{channel.type} {channel.id}: {type(exc).__name__}: {exc}"
            ) from exc

    def _webhook(self, channel: Channel, msg: AlarmMessage) -> None:
        body, headers = webhook_request(channel, msg)
        assert channel.url is not None
        self.http.post(channel.url, content=body, headers=headers).raise_for_status()

    def _wecom(self, channel: Channel, msg: AlarmMessage) -> None:
        assert channel.url is not None
        _check_robot_answer(self.http.post(channel.url, json=wecom_body(channel, msg)), "wecom")

    def _dingtalk(self, channel: Channel, msg: AlarmMessage) -> None:
        _check_robot_answer(
            self.http.post(dingtalk_url(channel), json=dingtalk_body(channel, msg)), "dingtalk"
        )

    def _email(self, channel: Channel, msg: AlarmMessage) -> None:
        s = self.settings
        if not s.smtp_host:
            raise DeliveryError("no SMTP server configured (PINGAN_SMTP_HOST)")
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=TIMEOUT_S) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password)
            smtp.send_message(email_message(channel, msg, s.smtp_from))

    def _sms(self, channel: Channel, msg: AlarmMessage) -> str:
        sms = Sms(title=msg.headline, place=msg.place, time=msg.raised_at, link=msg.link)
        return self.sms.send(list(channel.to), sms)
