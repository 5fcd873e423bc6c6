from __future__ import annotations

from datetime import date

import pytest

from pingan.territory import idcard


def test_valid_number() -> None:
    assert idcard.validate_id_number("11010519491231002x") == "11010519491231002X"
    assert idcard.birth_date("11010519491231002X") == date(1949, 12, 31)
    assert idcard.gender("11010519491231002X") == "F"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1101051949123100", "18 位"),
        ("110105194912310021", "校验位"),
        ("110105194913310028", "出生日期"),
    ],
)
def test_invalid_numbers(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        idcard.validate_id_number(value)
