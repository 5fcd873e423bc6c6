"""Words of the pages, Chinese first; English on request (?lang=en, remembered in a cookie)."""

from __future__ import annotations

from fastapi import Request

LANG_COOKIE = "pingan_lang"

TEXT: dict[str, dict[str, str]] = {
    "app": {"zh": "平安社区智能化监管平台", "en": "Pingan community safety platform"},
    "login": {"zh": "登录", "en": "Log in"},
    "logout": {"zh": "退出", "en": "Log out"},
    "username": {"zh": "用户名", "en": "User name"},
    "password": {"zh": "密码", "en": "Password"},
    "desk": {"zh": "报警值班台", "en": "Alarm desk"},
    "demo": {
        "zh": "演示环境 DEMO：数据与账号均为虚构，请勿用于实际工作。",
        "en": "DEMO: fictitious data and accounts.",
    },
    "no_alarms": {"zh": "当前没有待处理的报警", "en": "No open alarms"},
    "priority": {"zh": "级别", "en": "Priority"},
    "alarm": {"zh": "报警", "en": "Alarm"},
    "state": {"zh": "状态", "en": "State"},
    "raised_at": {"zh": "报警时间", "en": "Raised"},
    "count": {"zh": "次数", "en": "Count"},
    "actions": {"zh": "操作", "en": "Actions"},
    "live": {"zh": "实时", "en": "Live"},
    "offline": {"zh": "连接中断，正在重连…", "en": "Connection lost, reconnecting…"},
    "shortcuts": {
        "zh": "快捷键：J/K 选择，A 确认，D 派警，R 处置完毕，F 误报",
        "en": "Keys: J/K select, A acknowledge, D dispatch, R resolve, F false alarm",
    },
    "lang_switch": {"zh": "English", "en": "中文"},
}


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return "en" if asked == "en" else "zh"


def words(lang: str) -> dict[str, str]:
    return {key: entry.get(lang) or entry["zh"] for key, entry in TEXT.items()}
