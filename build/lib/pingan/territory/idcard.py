"""The 18-character resident identity number (GB 11643-1999): checksum, birth date, sex."""

from __future__ import annotations

from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_char(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def validate_id_number(value: str) -> str:
    v = value.strip().upper()
    if len(v) != 18 or not v[:17].isdigit() or not (v[17].isdigit() or v[17] == "X"):
        raise ValueError("身份证号应为 18 位：17 位数字加 1 位数字或 X")
    try:
        date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError as exc:
        raise ValueError("身份证号中的出生日期无效") from exc
    if check_char(v[:17]) != v[17]:
        raise ValueError("身份证号校验位不符")
    return v


def birth_date(v: str) -> date:
    return date(int(v[6:10]), int(v[10:12]), int(v[12:14]))


def gender(v: str) -> str:
    return "M" if int(v[16]) % 2 else "F"
