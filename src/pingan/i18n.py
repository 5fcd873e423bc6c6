"""Message catalogue for API and CLI messages: stable keys, words in zh-CN (default) and en."""

from __future__ import annotations

from typing import Any

DEFAULT_LANG = "zh"

MESSAGES: dict[str, dict[str, str]] = {
    "not_found": {"zh": "未找到{what}", "en": "{what} not found"},
    "validation": {"zh": "请求数据有误：{fields}", "en": "Invalid request: {fields}"},
    "unknown_query": {
        "zh": "不支持的查询参数：{names}；可用：{allowed}",
        "en": "Unknown query parameter(s): {names}; allowed: {allowed}",
    },
    "unauthenticated": {"zh": "请先登录", "en": "Authentication required"},
    "bad_credentials": {"zh": "用户名或密码错误", "en": "Wrong user name or password"},
    "user_disabled": {"zh": "账号已停用", "en": "Account disabled"},
    "rate_limited": {
        "zh": "登录失败次数过多，请 {seconds} 秒后再试",
        "en": "Too many failed logins; try again in {seconds} s",
    },
    "forbidden": {"zh": "无权执行：{action}", "en": "Not allowed: {action}"},
    "csrf": {
        "zh": "跨站请求被拒绝（Origin 不符）",
        "en": "Cross-site request refused (Origin mismatch)",
    },
    "has_children": {
        "zh": "{what}下还有 {count} 个下级节点；确需删除请加 cascade=true",
        "en": "{what} has {count} child node(s); add cascade=true to delete them too",
    },
    "bad_parent": {
        "zh": "{kind} 的上级必须是 {expected}",
        "en": "The parent of a {kind} must be a {expected}",
    },
    "bad_geometry": {"zh": "边界无效：{reason}", "en": "Invalid boundary: {reason}"},
    "conflict": {"zh": "与现有数据冲突：{reason}", "en": "Conflicts with existing data: {reason}"},
    "role_too_high": {
        "zh": "不能授予角色 {role}",
        "en": "You may not grant the role {role}",
    },
    "import_failed": {
        "zh": "导入失败：{count} 行有错误，未导入任何数据",
        "en": "Import failed: {count} row(s) have errors; nothing was imported",
    },
    "bad_file": {"zh": "无法读取文件：{reason}", "en": "Cannot read the file: {reason}"},
    "internal": {"zh": "服务器内部错误", "en": "Internal server error"},
    "alarm_changed": {
        "zh": "该报警已被他人处理（当前状态 {state}，版本 {version}），请刷新后再操作",
        "en": "Someone else changed this alarm (now {state}, version {version}); reload first",
    },
    "alarm_move": {
        "zh": "报警当前为 {state}，不能执行 {action}",
        "en": "The alarm is {state}; {action} is not allowed now",
    },
    "device_auth": {"zh": "设备认证失败：{reason}", "en": "Device authentication failed: {reason}"},
    "bad_event": {"zh": "事件无效：{reason}", "en": "Invalid event: {reason}"},
}


def pick_lang(accept_language: str | None) -> str:
    """The first of zh/en named in an Accept-Language header; zh when none is."""
    if not accept_language:
        return DEFAULT_LANG
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh"
    return DEFAULT_LANG


def t(key: str, lang: str = DEFAULT_LANG, **params: Any) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry[DEFAULT_LANG]
    try:
        return text.format(**params)
    except (KeyError, IndexError):
        return text
