"""Words of the platform: Chinese in the code, other languages in Babel message catalogues.

Chinese (zh-CN) is the source language: pages, API problems and CLI messages are written in
Chinese and marked with ``_()`` or ``N_()``; ``locale/<lang>/LC_MESSAGES/messages.po`` translates
them. ``make i18n`` extracts new words into the catalogues (pybabel extract + update).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from babel.messages.pofile import read_po
from pydantic import BeforeValidator

E = TypeVar("E", bound=enum.Enum)

DEFAULT_LANG = "zh"
LANGS = ("zh", "en")
LOCALE_DIR = Path(__file__).parent / "locale"


def N_(text: str) -> str:
    """Marks a word for the catalogue where it is defined; translated where it is shown."""
    return text


# API and CLI messages by a stable key (problem+json carries the key).
MESSAGES: dict[str, str] = {
    "not_found": N_("未找到{what}"),
    "validation": N_("请求数据有误：{fields}"),
    "unknown_query": N_("不支持的查询参数：{names}；可用：{allowed}"),
    "unauthenticated": N_("请先登录"),
    "bad_credentials": N_("用户名或密码错误"),
    "user_disabled": N_("账号已停用"),
    "rate_limited": N_("登录失败次数过多，请 {seconds} 秒后再试"),
    "forbidden": N_("无权执行：{action}"),
    "csrf": N_("跨站请求被拒绝（Origin 不符）"),
    "has_children": N_("{what}下还有 {count} 个下级节点；确需删除请加 cascade=true"),
    "bad_parent": N_("{kind} 的上级必须是 {expected}"),
    "bad_geometry": N_("边界无效：{reason}"),
    "conflict": N_("与现有数据冲突：{reason}"),
    "role_too_high": N_("不能授予角色 {role}"),
    "import_failed": N_("导入失败：{count} 行有错误，未导入任何数据"),
    "bad_file": N_("无法读取文件：{reason}"),
    "internal": N_("服务器内部错误"),
    "alarm_changed": N_("该报警已被他人处理（当前状态 {state}，版本 {version}），请刷新后再操作"),
    "alarm_move": N_("报警当前为 {state}，不能执行 {action}"),
    "device_auth": N_("设备认证失败：{reason}"),
    "out_of_range": N_("数值超出范围（编号、数量与偏移须在 64 位整数之内）"),
    "device_flood": N_("此地址的设备认证失败次数过多，请 {seconds} 秒后再试"),
    "too_large": N_("请求内容过大：{what}最多 {limit}"),
    "bad_event": N_("事件无效：{reason}"),
    "bad_period": N_("时间段有误：{reason}"),
    "consent_scope": N_("授权范围 {name} 不包含此人的住址"),
    "guardian_required": N_("未满 14 周岁：须由监护人同意，请填写监护人姓名与关系"),
    "consent_withdrawn": N_("此授权已撤回"),
    "consent_required": N_("此人没有有效的人脸识别授权：请先登记本人（或监护人）的单独同意"),
    "consent_device_only": N_("此人的授权只允许人脸数据保存在设备上，平台不保存其人脸模板"),
    "photo_count": N_("每次提交 1 至 {most} 张照片"),
    "engine_uncalibrated": N_("人脸引擎 {engine} 尚未校准：请运行 pingan faces calibrate"),
    "data_key": N_("未配置数据密钥 PINGAN_DATA_KEY：请用 pingan keygen 生成"),
    "face_workers_down": N_("人脸识别进程异常（已重启），这张照片无法处理：{reason}"),
    "bad_photo": N_("无法读取照片 {photo}：{reason}"),
    "watch_blocked_fields": N_("布控名单须写明：{fields}"),
    "watch_expiry": N_("布控期限须在今后 {days} 天之内"),
    "watch_person": N_("关爱与防走失名单须指明本辖区的居民（person_id）"),
    "watch_photos": N_("只有布控名单条目需要照片；关爱对象用本人已录入的人脸"),
    "watch_ended": N_("此名单条目已结束"),
    "not_matched": N_("这条识别记录没有匹配到任何人"),
    "patrol_member": N_("此人不是该队队员"),
    "patrol_shift": N_("班次结束时间须晚于开始时间"),
    "patrol_swap": N_("只能与同一队伍的班次对调"),
    "patrol_due": N_("检查点的到达时限超出了巡逻时长"),
    "patrol_outside": N_("检查点“{name}”不在{place}的范围内：请在地图上该队的辖区里选点"),
    "patrol_point_name": N_("检查点名称“{name}”重复：请给每个检查点起一个现场认得出的名字"),
    "patrol_token": N_("二维码无效：不是本路线的检查点，或已作废"),
    "patrol_finished": N_("这次巡逻已经结束"),
    "patrol_photo": N_("照片须为 JPEG 或 PNG 格式（base64 编码）"),
    "dispatch_open": N_("此报警已派给队员，尚未完成"),
    "dispatch_closed": N_("此报警已结束，不能再派单"),
    "dispatch_step": N_("任务当前为 {state}，不能执行 {step}"),
    "channel_needs": N_("这种渠道须填写 {what}"),
    "not_mqtt": N_("这台设备不走 MQTT：它没有 MQTT 账号"),
    "bad_current_password": N_("当前密码不对"),
    "same_password": N_("新密码不能与当前密码相同"),
    "password_change_required": N_("请先修改初始密码（登录后打开“修改密码”页面）"),
    "reason_required": N_("请写明查询事由（至少 4 个字），它会记入审计日志"),
    "unknown_kind": N_("没有事件小类 {kind}：请从事件分类中选择"),
    "incident_position": N_("请给出位置：手机定位、地图上的点，或写明小区、楼栋名称的地址"),
    "outside_territory": N_("位置 ({lon}, {lat}) 不在本街道辖区内，请核对位置后再上报"),
    "catalogue_in_use": N_("仍有未办结的事件属于这些小类：{kinds}；请先办结或改为其他小类"),
    "incident_changed": N_("该事件已被他人处理（当前版本 {version}），请刷新后再操作"),
    "incident_move": N_("事件当前为“{state}”，不能执行“{action}”"),
    "incident_reason": N_("请选择原因：{choices}"),
    "incident_assignee": N_("请指定处置人员或部门"),
    "incident_after_photo": N_("处置反馈须附处置后的照片"),
    "incident_extension": N_("申请延期须写明理由和天数"),
    "incident_no_extension": N_("没有待审批的延期申请"),
    "incident_merge": N_("只能合并到同一小类、尚未办结的另一事件"),
    "incident_rate": N_("只有已结案、尚未评价的事件可以评价"),
    "bad_attribute": N_("补充信息有误：{reason}"),
    "report_rate": N_("此地址上报过于频繁，请 {seconds} 秒后再试"),
    "street_node": N_("街巷须属于一个街道（街道级节点）"),
    "facility_item": N_("{item} 不是该小区（单位）检查清单中的项目"),
    "facility_status": N_("请选择状态：完好、缺失、损坏或不适用"),
    "facility_defect_open": N_("此项目的整改事件 {incident} 尚未核查结案：结案后自动恢复为完好"),
    "facility_site_position": N_("{site} 没有位置：请先在辖区管理中给它标点"),
    "checklist_incident": N_("检查清单有误：{reason}"),
    "checklist_in_use": N_("这些项目仍有整改中的隐患：{items}；请在整改结案后再删除"),
    "inspection_kind": N_("检查类别须为：{kinds}"),
    "inspection_item": N_("{item} 不是该小区（单位）本类检查的项目"),
    "inspection_twice": N_("{item} 回答了两次"),
    "inspection_unanswered": N_("检查未完成：{item} 没有填写"),
    "inspection_time": N_("检查时间须带时区，且在最近 30 天内（不能晚于现在）"),
    "inspection_photo": N_("{item} 的照片序号不在上传的照片之中"),
    "inspection_key": N_("这份检查的编号已被另一份检查使用：请重新开始检查"),
    "project_sites": N_("改造项目的院落须在同一街道内"),
    "project_utilities": N_("水、电、气改造属于基础类，请先选择基础类"),
    "project_funding": N_("资金来源合计 {funded} 元，超过预算 {budget} 元"),
    "project_date": N_("日期须在项目开始之后、不晚于今天，且不早于上一阶段"),
    "project_move": N_("项目当前为“{state}”，不能执行“{action}”"),
    "project_not_agreed": N_("居民议事尚未同意：先自治后整治，须先记录同意实施的议事结果"),
    "project_changed": N_("该项目已被他人修改，请刷新后再操作"),
    "project_consult": N_("居民议事请通过议事记录登记（含会议纪要）"),
    "project_minutes": N_("会议纪要无法保存：{reason}"),
    "project_action": N_("操作须为：{actions}"),
    "consultation_present": N_("参会户数不能超过院落总户数 {households}"),
    "consultation_votes": N_("表决票数 {votes} 超过参会户数 {present}"),
    "consultation_majority": N_(
        "“同意实施”须有三分之二以上的户参与表决，且参与表决的四分之三以上同意（民法典第二百七十八条）"
    ),
    "target_node": N_("目标须属于街道（全街道）或一个社区"),
    "target_measure": N_("没有计算口径 {measure}：可选 {choices}；不选则按填报计"),
    "target_deadline": N_("完成期限须晚于起始日期"),
    "target_value": N_("目标值不能与基线值相同"),
    "target_computed": N_("此目标由平台按“{measure}”自动计算，不能填报"),
    "target_inactive": N_("此目标已停用，不能再填报"),
    "target_reading_date": N_("填报日期须在目标起始日 {since} 之后、不晚于今天"),
    "target_evidence": N_("佐证材料无法保存：{reason}"),
    "target_changed": N_("该目标已被他人修改，请刷新后再操作"),
    "programme_code": N_("项目代码 {code} 已被使用"),
    "volunteer_community": N_("请选择一个社区"),
    "volunteer_programme": N_("请选择一个开放报名的志愿服务项目"),
    "volunteer_twice": N_("这个手机号已经报名过这个项目"),
    "volunteer_state": N_("志愿者当前为“{state}”，不能这样处理"),
    "volunteer_team": N_("队伍须属于该志愿者的项目和社区"),
    "volunteer_levels": N_("星级名称和所需时长都不能重复"),
    "volunteer_not_confirmed": N_("报名尚未经社区确认，确认后才能参加活动"),
    "volunteer_rate": N_("报名过于频繁，请 {seconds} 秒后再试"),
    "activity_time": N_("活动结束时间须晚于开始时间，且一次活动不超过一天"),
    "activity_when": N_("活动须在前后一年之内"),
    "activity_incident": N_("只有邻里纠纷调解活动可以关联网格事件，且须是邻里纠纷类事件"),
    "activity_closed": N_("活动已结束或已取消"),
    "activity_full": N_("活动报名人数已满"),
    "activity_code": N_("签到码不对：请核对现场公布的 6 位签到码"),
    "activity_not_in": N_("还没有签到"),
}


@cache
def catalogue(lang: str) -> dict[str, str]:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if lang == DEFAULT_LANG or not path.is_file():
        return {}
    with path.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    return {str(m.id): str(m.string) for m in cat if m.id and m.string and not m.fuzzy}


def gettext(text: str, lang: str = DEFAULT_LANG) -> str:
    return catalogue(lang).get(text, text) if lang != DEFAULT_LANG else text


def choice(value: str, labels: Mapping[E, str]) -> E | None:
    """The member of an enumeration a person typed: its key, its Chinese word or its English one."""
    typed = value.strip().casefold()
    for member, word in labels.items():
        if typed in (str(member.value).casefold(), word.casefold(), gettext(word, "en").casefold()):
            return member
    return None


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


@dataclass(frozen=True)
class Phrase:
    """Words with values in them, worded in the reader's language where shown: what an error
    is about ("用户 {n}"), a reason naming a value. str() is the Chinese."""

    text: str
    values: tuple[tuple[str, Any], ...]

    def say(self, lang: str = DEFAULT_LANG) -> str:
        return gettext(self.text, lang).format(**{k: _word(v, lang) for k, v in self.values})

    def __str__(self) -> str:
        return self.say()


def _word(value: Any, lang: str) -> Any:
    """A value put into a message: words of the catalogue (a kind, a reason, a list of choices)
    and phrases are worded in `lang`; anything else (a name, a number) is shown as it is."""
    if isinstance(value, Phrase):
        return value.say(lang)
    if isinstance(value, str):
        return gettext(value, lang)
    if isinstance(value, tuple):
        return gettext("、", lang).join(gettext(str(v), lang) for v in value)
    return value


def keyed(labels: Mapping[E, str]) -> BeforeValidator:
    """A schema field's BeforeValidator: the member a person typed as its key, its Chinese word
    or its English one (anything else is left for the enumeration to refuse)."""
    return BeforeValidator(
        lambda value: (choice(value, labels) or value) if isinstance(value, str) else value
    )


def phrase(text: str, **values: Any) -> Phrase:
    """A phrase of the catalogue with its values: phrase(N_("用户 {n}"), n=5)."""
    return Phrase(text, tuple(values.items()))


def t(key: str, lang: str = DEFAULT_LANG, **params: Any) -> str:
    text = MESSAGES.get(key)
    if text is None:
        return key
    words = {k: _word(v, lang) for k, v in params.items()}
    try:
        return gettext(text, lang).format(**words)
    except (KeyError, IndexError):
        return gettext(text, lang)
