"""The phone page of patrol members and volunteers (/m/), installable as a home-screen web app.

One page does it all — tasks pushed live, the run under way, scanning a checkpoint — and reads
its data through the patrol API. A service worker keeps the page itself, so it opens without a
network; check-ins made then wait on the phone with their time and are sent when it is back.
A checkpoint's QR code is the page's address with the signed token (`/m/?t=PA1.…`), so the
phone's own camera app, WeChat's scanner or the page's scan button all check in.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.i18n import N_, gettext
from pingan.patrol.models import TEAM_LABEL
from pingan.web.text import PHONE, alarm_words, lang_of

if TYPE_CHECKING:
    from pingan.web.pages import Pages


# The words phone.js shows; Chinese here, English from the catalogue.
WORDS: dict[str, str] = {
    "offered": N_("新派单，请尽快接单"),
    "accepted": N_("已接受"),
    "en_route": N_("正在前往"),
    "on_scene": N_("已到场"),
    "resolved": N_("已处置"),
    "declined": N_("无法前往"),
    "timed_out": N_("超时已转派"),
    "cancelled": N_("已取消"),
    "accept": N_("接受任务"),
    "go": N_("正在前往"),
    "arrive": N_("已到场"),
    "resolve": N_("处置完毕"),
    "decline": N_("无法前往"),
    "note": N_("处置情况"),
    "photo": N_("现场照片"),
    "map": N_("在地图中打开"),
    "left": N_("{s} 秒内接单，否则转派他人"),
    "away": N_("距离 {m} 米"),
    "no_tasks": N_("暂无派单任务"),
    "start": N_("开始巡逻"),
    "finish": N_("结束巡逻"),
    "finish_confirm": N_("确定结束这次巡逻？未签到的检查点将记为漏检。"),
    "scan": N_("扫码签到"),
    "scan_stop": N_("停止扫码"),
    "scan_hint": N_("将检查点二维码放入框内"),
    "no_camera": N_("无法打开摄像头：请用手机相机或微信扫码"),
    "no_run": N_("请先开始巡逻，再扫码签到"),
    "no_position": N_("无法获取位置：请允许本页使用定位后再扫码"),
    "checked": N_("已签到：{name}"),
    "queued": N_("无网络：签到已保存在手机上，联网后自动发送"),
    "pending": N_("{n} 条签到待发送"),
    "refused": N_("签到被拒绝：{reason}"),
    "done": N_("已签到"),
    "due": N_("{m} 分钟内"),
    "far": N_("偏离"),
    "out_of_order": N_("顺序不符"),
    "late": N_("迟到"),
    "progress": N_("已签到 {n}/{total}"),
    "missed": N_("漏检"),
    "offline": N_("无网络"),
    "new_task": N_("新派单！"),
    "failed": N_("操作未成功：{reason}"),
    "hours": N_("服务时长"),
    "hours_n": N_("{h} 小时 {m} 分钟"),
    "minutes_n": N_("{m} 分钟"),
    "shift": N_("本班至"),
    "no_team": N_("您还不是巡逻队的队员：请联系社区把您加入队伍"),
    "no_routes": N_("本队还没有巡逻路线"),
    "report_here": N_("发现其他问题？上报网格事件"),
    "report_missed": N_("上报漏检原因"),
}


def install(app: FastAPI, pages: Pages) -> None:
    @app.get("/m", include_in_schema=False)
    def phone_bare() -> Response:
        return RedirectResponse(PHONE, status_code=308)

    @app.get(PHONE, include_in_schema=False)
    def phone(
        request: Request, principal: Principal = Depends(pages.viewer(Perm.patrol_run))
    ) -> Response:
        lang = lang_of(request)
        words = {k: gettext(v, lang) for k, v in WORDS.items()}
        words.update({f"team_{k.value}": gettext(v, lang) for k, v in TEAM_LABEL.items()})
        return pages.render(
            request,
            "phone.html",
            principal=principal,
            words=words,
            alarm_words={
                k: v for k, v in alarm_words(request).items() if k in ("categories", "titles")
            },
        )

    @app.get(f"{PHONE}sw.js", include_in_schema=False)
    def service_worker() -> Response:
        # Served from /m/ so that its scope is the phone page; never cached by the browser's
        # HTTP cache, so a new version takes over on the next visit.
        body = (pages.static_dir / "phone-sw.js").read_text(encoding="utf-8")
        return Response(
            body,
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": PHONE},
        )

    @app.get(f"{PHONE}manifest.webmanifest", include_in_schema=False)
    def manifest(request: Request) -> Response:
        lang = lang_of(request)
        data: dict[str, Any] = {
            "name": gettext(N_("平安巡逻"), lang),
            "short_name": gettext(N_("平安巡逻"), lang),
            "description": gettext(N_("巡逻签到与派单任务"), lang),
            "lang": "en" if lang == "en" else "zh-CN",
            "start_url": PHONE,
            "scope": PHONE,
            "display": "standalone",
            "orientation": "portrait",
            "background_color": "#ffffff",
            "theme_color": "#b71c1c",
            "icons": [
                {"src": "/static/phone-icon.svg", "sizes": "any", "type": "image/svg+xml"},
                {
                    "src": "/static/phone-icon.svg",
                    "sizes": "any",
                    "type": "image/svg+xml",
                    "purpose": "maskable",
                },
            ],
        }
        return Response(
            json.dumps(data, ensure_ascii=False), media_type="application/manifest+json"
        )
