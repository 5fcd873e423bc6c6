"""SMS senders: Alibaba Cloud SMS (dysmsapi SendSms, RPC signature HMAC-SHA1), Tencent Cloud SMS
(SendSms 2021-01-11, signature TC3-HMAC-SHA256), a generic HTTP gateway, and the log-only one
of the demo, whose messages the outbox marks "logged", never "sent".

Chinese carriers take registered templates only: a message is its template's parameters
(title, place, time, link), and the sign name, template code and credentials are settings
(`PINGAN_SMS_*`, docs/alarms.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote, urlparse

import httpx

from pingan.config import Settings

log = logging.getLogger("pingan.notify.sms")
SENT, LOGGED = "sent", "logged"
ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
TENCENT_ENDPOINT = "https://sms.tencentcloudapi.com/"


class SmsError(RuntimeError):
    """The provider refused or could not be reached; the outbox tries again."""


@dataclass(frozen=True)
class Sms:
    """One message as a template's parameters."""

    title: str
    place: str
    time: str
    link: str

    def text(self) -> str:
        return f"{self.title} {self.place} {self.time} {self.link}"


class SmsSender(Protocol):
    def send(self, to: list[str], sms: Sms) -> str:
        """Send to each number; "sent" or "logged". Raises SmsError."""
        ...


class LogSms:
    """The demo's: the message goes to the log, and is recorded as "logged"."""

    def send(self, to: list[str], sms: Sms) -> str:
        log.info("SMS (log only) to %s: %s", ",".join(to), sms.text())
        return LOGGED


# --- Alibaba Cloud ------------------------------------------------------------------------------


def aliyun_encode(value: str) -> str:
    """RFC 3986 percent-encoding as the RPC signature wants it (space %20, * %2A, ~ kept)."""
    return quote(value, safe="~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    canonical = "&".join(
        f"{aliyun_encode(k)}={aliyun_encode(v)}" for k, v in sorted(params.items())
    )
    to_sign = f"{method}&{aliyun_encode('/')}&{aliyun_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSms:
    def __init__(self, settings: Settings, client: httpx.Client) -> None:
        self.s, self.client = settings, client

    def send(self, to: list[str], sms: Sms) -> str:
        params = {
            "AccessKeyId": self.s.sms_key_id or "",
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": ",".join(to),
            "RegionId": self.s.sms_region or "cn-hangzhou",
            "SignName": self.s.sms_sign_name or "",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": self.s.sms_template or "",
            "TemplateParam": json.dumps(
                {"title": sms.title, "place": sms.place, "time": sms.time, "link": sms.link},
                ensure_ascii=False,
            ),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = aliyun_signature(params, self.s.sms_key_secret or "")
        try:
            response = self.client.post(self.s.sms_endpoint or ALIYUN_ENDPOINT, data=params)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SmsError(f"Alibaba Cloud SMS: {exc}") from exc
        if answer.get("Code") != "OK":
            raise SmsError(f"Alibaba Cloud SMS: {answer.get('Code')}: {answer.get('Message')}")
        return SENT


# --- Tencent Cloud ------------------------------------------------------------------------------


def _hmac256(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tencent_authorization(
    *, secret_id: str, secret_key: str, host: str, payload: str, timestamp: int
) -> str:
    """TC3-HMAC-SHA256 over the canonical request (POST /, content-type and host signed)."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:application/json; charset=utf-8\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload.encode()).hexdigest(),
        ]
    )
    scope = f"{date}/sms/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signing = _hmac256(_hmac256(_hmac256(f"TC3{secret_key}".encode(), date), "sms"), "tc3_request")
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


class TencentSms:
    def __init__(self, settings: Settings, client: httpx.Client) -> None:
        self.s, self.client = settings, client

    def send(self, to: list[str], sms: Sms) -> str:
        endpoint = self.s.sms_endpoint or TENCENT_ENDPOINT
        host = urlparse(endpoint).netloc
        payload = json.dumps(
            {
                "PhoneNumberSet": [n if n.startswith("+") else f"+86{n}" for n in to],
                "SmsSdkAppId": self.s.sms_app_id or "",
                "SignName": self.s.sms_sign_name or "",
                "TemplateId": self.s.sms_template or "",
                "TemplateParamSet": [sms.title, sms.place, sms.time, sms.link],
            },
            ensure_ascii=False,
        )
        now = int(time.time())
        headers = {
            "Authorization": tencent_authorization(
                secret_id=self.s.sms_key_id or "",
                secret_key=self.s.sms_key_secret or "",
                host=host,
                payload=payload,
                timestamp=now,
            ),
            "Content-Type": "application/json; charset=utf-8",
            "Host": host,
            "X-TC-Action": "SendSms",
            "X-TC-Version": "2021-01-11",
            "X-TC-Timestamp": str(now),
            "X-TC-Region": self.s.sms_region or "ap-guangzhou",
        }
        try:
            response = self.client.post(endpoint, content=payload.encode(), headers=headers)
            answer = response.json().get("Response", {})
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise SmsError(f"Tencent Cloud SMS: {exc}") from exc
        if "Error" in answer:
            error = answer["Error"]
            raise SmsError(f"Tencent Cloud SMS: {error.get('Code')}: {error.get('Message')}")
        failed = [s for s in answer.get("SendStatusSet", []) if s.get("Code") != "Ok"]
        if failed or not answer.get("SendStatusSet"):
            raise SmsError(f"Tencent Cloud SMS: not sent to {failed or to}")
        return SENT


# --- a gateway of one's own ---------------------------------------------------------------------


class HttpSms:
    """POSTs {"to": [...], "text": "...", "params": {...}} with a bearer token; any 2xx is sent."""

    def __init__(self, settings: Settings, client: httpx.Client) -> None:
        self.s, self.client = settings, client

    def send(self, to: list[str], sms: Sms) -> str:
        headers = (
            {"Authorization": f"Bearer {self.s.sms_key_secret}"} if self.s.sms_key_secret else {}
        )
        body = {"to": to, "text": sms.text(), "params": vars(sms)}
        try:
            response = self.client.post(self.s.sms_endpoint or "", json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SmsError(f"SMS gateway: {exc}") from exc
        if not response.is_success:
            raise SmsError(f"SMS gateway: HTTP {response.status_code} {response.text[:200]}")
        return SENT


def make_sender(settings: Settings, client: httpx.Client) -> SmsSender:
    provider = settings.sms_provider
    if provider == "aliyun":
        return AliyunSms(settings, client)
    if provider == "tencent":
        return TencentSms(settings, client)
    if provider == "http":
        return HttpSms(settings, client)
    return LogSms()
