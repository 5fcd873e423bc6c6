"""A Mosquitto of one's own on a free local port (benchmarks and tests), with persistence, that
can be stopped and started again."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

# What the platform needs of its broker, so that nothing published at QoS 1 is lost while the
# platform is down (docs/devices.md, "Broker settings"): a persistent session's queue without a
# limit (Mosquitto's default of 1,000 messages drops the rest: six seconds at 200/s), kept on
# disk across broker restarts, sessions kept two weeks, and a message size the platform takes.
BROKER_SETTINGS = (
    "persistence true",
    "max_queued_messages 0",
    "max_queued_bytes 0",
    "persistent_client_expiration 14d",
    "message_size_limit 5242880",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


class LocalBroker:
    def __init__(
        self,
        folder: Path,
        *,
        passwords: dict[str, str] | None = None,
        password_lines: list[str] | None = None,
        acl: str | None = None,
    ) -> None:
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed: apt-get install mosquitto")
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        lines = [
            f"listener {self.port} 127.0.0.1",
            *BROKER_SETTINGS,
            f"persistence_location {folder}/",
            "max_inflight_messages 0",
            f"log_dest file {folder}/mosquitto.log",
        ]
        if os.geteuid() == 0:  # otherwise it drops to the mosquitto user, who cannot read our files
            lines.append("user root")
        if passwords or password_lines:
            pw = folder / "passwd"
            pw.write_text("".join(f"{line}\n" for line in password_lines or []))
            for user, password in (passwords or {}).items():
                subprocess.run(["mosquitto_passwd", "-b", str(pw), user, password], check=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if acl:
            (folder / "acl").write_text(acl)
            lines.append(f"acl_file {folder / 'acl'}")
        self.config = folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
