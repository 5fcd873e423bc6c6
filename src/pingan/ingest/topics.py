"""MQTT topic names: the one place they are spelled.

pingan/v1/<device code>/event       JSON event(s), QoS 1
pingan/v1/<device code>/heartbeat   empty or JSON {"event_id", "time"}, QoS 1
pingan/v1/<device code>/status      "online" | "offline", retained; the device's last will
pingan/v1/<device code>/snapshot    a face snapshot (JPEG/PNG/WebP bytes), QoS 1; MQTT v5 user
                                    property liveness=passed|failed from the terminal's own check
pingan/v1/<device code>/decision    the platform's answer to a door's snapshot (JSON), QoS 1
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "pingan/v1"
KINDS = ("event", "heartbeat", "status", "snapshot")
SHARED_GROUP = "pingan"


def device_topic(code: str, kind: str) -> str:
    return f"{PREFIX}/{code}/{kind}"


def subscriptions(shared: bool) -> list[str]:
    topics = [f"{PREFIX}/+/{kind}" for kind in KINDS]
    return [f"$share/{SHARED_GROUP}/{t}" for t in topics] if shared else topics


@dataclass(frozen=True)
class Parsed:
    code: str
    kind: str


def parse(topic: str) -> Parsed | None:
    parts = topic.split("/")
    if len(parts) != 4 or "/".join(parts[:2]) != PREFIX or parts[3] not in KINDS or not parts[2]:
        return None
    return Parsed(code=parts[2], kind=parts[3])


def broker_acl(platform_user: str = "pingan") -> str:
    """Mosquitto's acl_file for these topics: the platform reads every device's topics and
    answers doors; each device (its code is its user name) writes only its own and reads only
    the answers to it."""
    lines = [
        f"user {platform_user}",
        f"topic read {PREFIX}/#",
        f"topic write {PREFIX}/+/decision",
        "",
        *(f"pattern write {PREFIX}/%u/{kind}" for kind in KINDS),
        f"pattern read {PREFIX}/%u/decision",
    ]
    return "\n".join(lines) + "\n"
