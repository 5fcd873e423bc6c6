"""SMS is a real channel: Alibaba Cloud's and Tencent Cloud's documented APIs and signatures,
checked by a local server that verifies each request as the service documents it (written here
on its own, not with the platform's signing code), and a generic gateway."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest

from pingan.alarms.notify.sms import (
    LOGGED,
    SENT,
    LogSms,
    Sms,
    SmsError,
    aliyun_signature,
    make_sender,
)
from pingan.config import Settings

SMS = Sms(
    title="P1 火警 · 1栋烟感",
    place="柳城街道 / 光华社区 / 光华苑",
    time="2026-12-01 20:00:00",
    link="http://c/alarms/7",
)
KEY_ID, SECRET = "LTAI5tTestKeyId", "testSecretOfTheService"


def test_the_aliyun_signature_matches_the_documented_example() -> None:
    """The example of Alibaba Cloud's RPC signature documentation (GET DescribeRegions)."""
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert aliyun_signature(params, "testsecret", method="GET") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def _aliyun_expected(form: dict[str, str], secret: str) -> str:
    """Alibaba Cloud's steps: sort, percent-encode (RFC 3986: ~ kept, space %20, * %2A), join,
    'POST&%2F&' + encode(query), HMAC-SHA1 with the secret and '&', base64."""

    def enc(text: str) -> str:
        return (
            urllib.parse.quote_plus(text, encoding="utf-8")
            .replace("+", "%20")
            .replace("*", "%2A")
            .replace("%7E", "~")
        )

    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(form.items()) if k != "Signature")
    mac = hmac.new((secret + "&").encode(), f"POST&%2F&{enc(query)}".encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def _tencent_expected(headers: Any, body: bytes, secret_key: str) -> str:
    """Tencent Cloud's TC3-HMAC-SHA256 steps (API 3.0 signature v3)."""
    timestamp = int(headers["X-TC-Timestamp"])
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    request = (
        "POST\n/\n\n"
        f"content-type:{headers['Content-Type']}\nhost:{headers['Host']}\n\n"
        "content-type;host\n" + hashlib.sha256(body).hexdigest()
    )
    text = (
        f"TC3-HMAC-SHA256\n{timestamp}\n{date}/sms/tc3_request\n"
        + hashlib.sha256(request.encode()).hexdigest()
    )
    k = hmac.new(("TC3" + secret_key).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, b"sms", hashlib.sha256).digest()
    k = hmac.new(k, b"tc3_request", hashlib.sha256).digest()
    return hmac.new(k, text.encode(), hashlib.sha256).hexdigest()


class Provider(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *_args: Any) -> None:
        pass

    def _answer(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/aliyun/":
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
            Provider.received.append({"aliyun": form})
            ok = form.get("Signature") == _aliyun_expected(form, SECRET)
            ok = ok and form["AccessKeyId"] == KEY_ID and form["Action"] == "SendSms"
            self._answer(
                {"Code": "OK", "Message": "OK"}
                if ok
                else {"Code": "SignatureDoesNotMatch", "Message": "bad signature"}
            )
        elif self.path == "/tencent/":
            Provider.received.append({"tencent": json.loads(body), "headers": dict(self.headers)})
            auth = self.headers["Authorization"]
            signature = auth.rsplit("Signature=", 1)[-1]
            ok = (
                signature == _tencent_expected(self.headers, body, SECRET)
                and f"Credential={KEY_ID}/" in auth
            )
            ok = (
                ok
                and self.headers["X-TC-Action"] == "SendSms"
                and self.headers["X-TC-Version"] == "2021-01-11"
            )
            if ok:
                numbers = json.loads(body)["PhoneNumberSet"]
                self._answer(
                    {
                        "Response": {
                            "SendStatusSet": [{"Code": "Ok", "PhoneNumber": n} for n in numbers],
                            "RequestId": "r1",
                        }
                    }
                )
            else:
                self._answer(
                    {
                        "Response": {
                            "Error": {
                                "Code": "AuthFailure.SignatureFailure",
                                "Message": "bad signature",
                            },
                            "RequestId": "r2",
                        }
                    }
                )
        elif self.path == "/gateway":
            Provider.received.append(
                {"gateway": json.loads(body), "auth": self.headers.get("Authorization")}
            )
            self._answer({"ok": True})
        else:
            self.send_response(404)
            self.end_headers()


@pytest.fixture()
def provider() -> Iterator[str]:
    Provider.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _settings(**extra: Any) -> Settings:
    return Settings(
        _env_file=None, sms_key_id=KEY_ID, sms_sign_name="平安社区", sms_template="SMS_123", **extra
    )  # type: ignore[call-arg]


def test_alibaba_cloud_sms_is_signed_as_documented(provider: str) -> None:
    with httpx.Client() as client:
        sender = make_sender(
            _settings(
                sms_provider="aliyun", sms_key_secret=SECRET, sms_endpoint=f"{provider}/aliyun/"
            ),
            client,
        )
        assert sender.send(["13800000001", "13800000002"], SMS) == SENT
        [got] = Provider.received
        form = got["aliyun"]
        assert form["PhoneNumbers"] == "13800000001,13800000002" and form["SignName"] == "平安社区"
        assert json.loads(form["TemplateParam"]) == vars(SMS) and form["TemplateCode"] == "SMS_123"
        wrong = make_sender(
            _settings(
                sms_provider="aliyun",
                sms_key_secret="not-the-secret",
                sms_endpoint=f"{provider}/aliyun/",
            ),
            client,
        )
        with pytest.raises(SmsError, match="SignatureDoesNotMatch"):
            wrong.send(["13800000001"], SMS)


def test_tencent_cloud_sms_is_signed_as_documented(provider: str) -> None:
    with httpx.Client() as client:
        sender = make_sender(
            _settings(
                sms_provider="tencent",
                sms_key_secret=SECRET,
                sms_app_id="1400006666",
                sms_endpoint=f"{provider}/tencent/",
            ),
            client,
        )
        assert sender.send(["13800000001"], SMS) == SENT
        body = Provider.received[0]["tencent"]
        assert body["PhoneNumberSet"] == ["+8613800000001"] and body["SmsSdkAppId"] == "1400006666"
        assert body["TemplateParamSet"] == [SMS.title, SMS.place, SMS.time, SMS.link]
        wrong = make_sender(
            _settings(
                sms_provider="tencent",
                sms_key_secret="nope",
                sms_app_id="1400006666",
                sms_endpoint=f"{provider}/tencent/",
            ),
            client,
        )
        with pytest.raises(SmsError, match="SignatureFailure"):
            wrong.send(["13800000001"], SMS)


def test_a_gateway_of_ones_own_and_the_log_only_sender(provider: str) -> None:
    with httpx.Client() as client:
        sender = make_sender(
            Settings(
                _env_file=None,
                sms_provider="http",
                sms_endpoint=f"{provider}/gateway",
                sms_key_secret="tok",
            ),
            client,
        )  # type: ignore[call-arg]
        assert sender.send(["13800000001"], SMS) == SENT
        assert (
            Provider.received[0]["gateway"]["to"] == ["13800000001"]
            and Provider.received[0]["auth"] == "Bearer tok"
        )
        broken = make_sender(
            Settings(_env_file=None, sms_provider="http", sms_endpoint=f"{provider}/nowhere"),
            client,
        )  # type: ignore[call-arg]
        with pytest.raises(SmsError, match="404"):
            broken.send(["13800000001"], SMS)
    assert LogSms().send(["13800000001"], SMS) == LOGGED


def test_a_provider_without_what_it_needs_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="PINGAN_SMS_KEY_SECRET"):
        Settings(_env_file=None, sms_provider="aliyun", sms_key_id="x")  # type: ignore[call-arg]
