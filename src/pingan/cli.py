"""The `pingan` command."""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from pingan.config import UnknownSetting, get_settings
from pingan.errors import PinganError
from pingan.i18n import t

if TYPE_CHECKING:
    from pingan.auth.principal import Principal

app = typer.Typer(
    help="平安社区智能化监管平台 pingan — 命令行工具 (CLI)",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
user_app = typer.Typer(help="账号管理 (accounts)", no_args_is_help=True)
app.add_typer(user_app, name="user")
faces_app = typer.Typer(help="人脸识别 (faces)", no_args_is_help=True)
app.add_typer(faces_app, name="faces")

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, hint: str | None = None) -> None:
    typer.secho(f"错误 error: {message}", fg=typer.colors.RED, err=True)
    if hint:
        typer.echo(f"下一步 next: {hint}", err=True)
    raise typer.Exit(2)


def _require_schema() -> None:
    from pingan.db import migrate
    from pingan.db.engine import get_engine

    current, head = migrate.current_revision(get_engine()), migrate.head_revision()
    if current != head:
        _fail(
            f"数据库结构版本为 {current}，程序需要 {head} (database not initialised or outdated)",
            "运行 `pingan init` (run `pingan init`)",
        )


def _describe_db() -> str:
    url = get_settings().database_url
    if "@" in url:  # hide credentials
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@app.command()
def init() -> None:
    """Create or upgrade the database schema (migrations). 初始化/升级数据库。"""
    from pingan.db import meta, migrate
    from pingan.db.base import utcnow
    from pingan.db.engine import get_engine, session_scope

    engine = get_engine()
    before = migrate.current_revision(engine)
    migrate.upgrade(engine)
    with session_scope(actor="cli:init") as session:
        if meta.get(session, "initialised_at") is None:
            meta.put(session, "initialised_at", utcnow().isoformat())
    after = migrate.current_revision(engine)
    typer.echo(f"数据库 database: {_describe_db()}")
    typer.echo(f"结构版本 schema: {before or '(empty)'} → {after}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default PINGAN_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default PINGAN_PORT)")] = None,
) -> None:
    """Serve the console and API. 启动服务。"""
    import uvicorn

    from pingan.app import create_app

    _require_schema()
    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    tls: dict[str, str] = {}
    if settings.tls_cert_file or settings.tls_key_file:
        for name, path in (
            ("PINGAN_TLS_CERT_FILE", settings.tls_cert_file),
            ("PINGAN_TLS_KEY_FILE", settings.tls_key_file),
        ):
            if path is None or not path.is_file():
                _fail(f"{name} 未设置或文件不存在 is missing: {path} — `pingan cert` makes both")
        tls = {
            "ssl_certfile": str(settings.tls_cert_file),
            "ssl_keyfile": str(settings.tls_key_file),
        }
    scheme = "https" if tls else "http"
    # Requests hop between the event loop and worker threads; a shorter GIL switch interval
    # keeps each hop from waiting out another thread's 5 ms slice.
    sys.setswitchinterval(0.001)
    typer.echo(
        f"pingan 服务 serving on {scheme}://{host}:{port}  (API 文档 docs: /docs) — "
        f"database {_describe_db()}"
    )
    proxies = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        # Forwarded headers only from the proxies named; uvicorn would believe 127.0.0.1's.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        **tls,  # type: ignore[arg-type]
    )


@app.command()
def cert(
    hosts: Annotated[
        list[str],
        typer.Option(
            "--host", help="Name or address the phones use (repeat for several), e.g. 192.168.1.20"
        ),
    ],
    out: Annotated[Path, typer.Option(help="Folder for the files")] = Path("var/tls"),
    days: Annotated[int, typer.Option(min=1, max=825, help="Validity of the certificate")] = 825,
) -> None:
    """Make a certificate for HTTPS on a local network, signed by a local authority that the
    phones install once. 生成局域网 HTTPS 证书。"""
    from pingan import tls

    made = tls.make(out, hosts=hosts, days=days)
    typer.echo(f"证书 certificate: {made.cert}\n私钥 key: {made.key}\n根证书 authority: {made.ca}")
    typer.echo(
        "\n设置 set:\n"
        f"  PINGAN_TLS_CERT_FILE={made.cert}\n  PINGAN_TLS_KEY_FILE={made.key}\n"
        f"  PINGAN_PUBLIC_URL=https://{hosts[0]}:<port>\n"
        f"在每部手机上安装一次根证书 {made.ca.name}（设置 → 安全 → 加密与凭据 → 安装证书 → CA 证书）。\n"
        f"Install {made.ca.name} once on each phone as a CA certificate; the key of the authority "
        f"({made.ca_key.name}) stays on this machine and signs the next certificate."
    )


@app.command("demo-data")
def demo_data() -> None:
    """Load the demo territory (柳城街道) and print the demo accounts' passwords. 载入演示数据。"""
    from pingan import demo
    from pingan.auth.principal import cli_principal
    from pingan.db.engine import session_scope

    _require_schema()
    actor = cli_principal("cli:demo-data")
    with session_scope(actor=actor.name) as session:
        loaded = demo.load_territory(
            session, actor=actor, progress=lambda step: typer.echo(f"  载入 loading {step} …")
        )
    typer.echo(
        "演示辖区已载入 demo territory loaded"
        if loaded
        else "演示辖区已存在 demo territory present"
    )
    with session_scope(actor=actor.name) as session:
        accounts = demo.reset_accounts(session, actor=actor)
    typer.echo("\n演示账号 demo accounts (新密码 new passwords; 仅用于演示 demo only):")
    for account, password in accounts:
        typer.echo(
            f"  {account.username:<14} {password:<16} {account.role.value:<16} {'/'.join(account.scope[1:]) or account.scope[0]}"
        )
    _demo_history(actor)


def _demo_history(actor: Principal) -> None:
    """Devices in every compound and ninety days of history, once per demo database."""
    from pingan import demo_history
    from pingan.alarms.rules import RuleBook
    from pingan.db.engine import session_scope
    from pingan.faces.vault import KeyMissing, Vault

    settings = get_settings()
    try:
        vault = Vault.from_setting(settings.data_key)
    except KeyMissing:
        typer.echo("未设置 PINGAN_DATA_KEY：跳过演示历史 no data key: demo history skipped")
        return
    started = time.monotonic()
    with session_scope(actor=actor.name) as session:
        counts = demo_history.history(
            session,
            actor=actor,
            rules=RuleBook.load(settings.rules_file),
            vault=vault,
            face_engine=settings.face_engine,
            video_dir=Path(settings.var_dir),
            progress=lambda step: typer.echo(f"  生成 making {step} …"),
        )
    if counts:
        typer.echo(
            f"演示设备与 {demo_history.DAYS} 天历史已生成 devices and {demo_history.DAYS} days of"
            f" history made: {counts['devices']} 台设备 devices, {counts['alarms']} 条报警 alarms"
            f"（误报 false {counts['false']}，派单 dispatched {counts['dispatched']}），"
            f"{counts['runs']} 次巡逻 patrol runs，{counts['recognitions']} 次人脸识别 face"
            f" recognitions（开门 granted {counts['grant']}，拒绝 denied {counts['deny']}）"
            f" ({time.monotonic() - started:.0f} s)"
        )
    _demo_incidents(actor)


def _demo_incidents(actor: Principal) -> None:
    """The streets of 万盛 and 和平 with their chiefs, and a month of grid incidents."""
    from importlib import resources

    from pingan import demo_incidents
    from pingan.db.engine import session_scope

    started = time.monotonic()
    streets = resources.files("pingan.territory").joinpath("demo/streets.geojson").read_bytes()
    with session_scope(actor=actor.name) as session:
        counts = demo_incidents.month(
            session,
            actor=actor,
            street_data=streets,
            progress=lambda step: typer.echo(f"  生成 making {step} …"),
        )
    if counts:
        typer.echo(
            f"演示网格事件已生成 a month of grid incidents made: {counts['incidents']} 件 cases"
            f"（已结案 closed {counts['closed']}，办理中 open {counts['open']}，"
            f"超期 overdue {counts['overdue']}），{counts['streets']} 条街巷 streets with chiefs"
            f" ({time.monotonic() - started:.0f} s)"
        )
    _demo_facilities(actor)


def _demo_facilities(actor: Principal) -> None:
    """Every site's facility register and a year of inspections; the street's targets."""
    from pingan import demo_facilities, demo_targets, demo_volunteers
    from pingan.db import meta
    from pingan.db.engine import session_scope

    started = time.monotonic()
    with session_scope(actor=actor.name) as session:
        month_ends = demo_targets.MonthEnds(session)
        counts = demo_facilities.year(
            session,
            actor=actor,
            progress=lambda step: typer.echo(f"  生成 making {step} …"),
            month_end=month_ends.take,
        )
        served = demo_volunteers.year(
            session, actor=actor, progress=lambda step: typer.echo(f"  生成 making {step} …")
        )
        aims = demo_targets.seed(session, month_ends=month_ends)
        volunteer_key = meta.get(session, demo_volunteers.KEY_OF)
    if counts:
        typer.echo(
            f"演示物防台账与一年检查已生成 facility registers and a year of inspections made:"
            f" {counts['sites']} 个小区/单位 sites, {counts['inspections']} 次检查 inspections"
            f"（不合格项 failed items {counts['failed']}，整改事件 cases {counts['cases']}）"
            f" ({time.monotonic() - started:.0f} s)"
        )
    if served:
        typer.echo(
            f"演示志愿服务已生成 volunteers made: {served['volunteers']} 人报名 signed up"
            f"（在册 confirmed {served['confirmed']}），{served['activities']} 场活动 activities，"
            f"{served['attendances']} 人次 attendances"
        )
        typer.echo(f"演示志愿者码 demo volunteer key (/m/volunteer): {volunteer_key}")
    if aims:
        typer.echo(
            f"演示目标任务已生成 the street's targets set: {aims['targets']} 项 targets"
            f"（填报 entries {aims['entries']}）"
        )


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name")],
    role: Annotated[
        str, typer.Option("--role", help="street_admin, community_admin, centre_operator, …")
    ],
    scope: Annotated[
        str,
        typer.Option("--scope", help="Node id, or names from the street down: 柳城街道/光华社区"),
    ],
    name: Annotated[str | None, typer.Option("--name", help="Display name")] = None,
    password: Annotated[str | None, typer.Option("--password", help="Omit to generate one")] = None,
) -> None:
    """Create an account with one role bound to a territory node. 新建账号。"""
    from pingan.auth import service as auth_service
    from pingan.auth.passwords import generate_password
    from pingan.auth.principal import cli_principal
    from pingan.auth.roles import Role
    from pingan.auth.schemas import BindingIn, UserCreate
    from pingan.db.engine import session_scope
    from pingan.territory import service as territory_service

    _require_schema()
    try:
        role_value = Role(role)
    except ValueError:
        _fail(
            f"未知角色 unknown role {role!r}",
            f"可选 choose one of: {', '.join(r.value for r in Role)}",
        )
        return
    actor = cli_principal("cli:user-add")
    generated = password is None
    password = password or generate_password()
    with session_scope(actor=actor.name) as session:
        node = (
            territory_service.get(session, node_id=int(scope))
            if scope.isdigit()
            else territory_service.get_by_names(session, names=[p for p in scope.split("/") if p])
        )
        if node is None:
            _fail(
                f"找不到辖区节点 scope not found: {scope}",
                "用节点编号或从街道起的名称路径，如 柳城街道/光华社区",
            )
            return
        user = auth_service.create(
            session,
            actor=actor,
            data=UserCreate(
                username=username,
                display_name=name or username,
                password=password,
                roles=[BindingIn(role=role_value, node_id=node.id)],
            ),
        )
        typer.echo(
            f"已创建账号 created user {user.username} (id {user.id}), {role_value.value} @ {node.name}"
        )
    if generated:
        typer.echo(f"初始密码 password: {password}")


def _progress(label: str, every: int = 10_000) -> Callable[[str, int], None]:
    """Report a running count (rows, or pages of a SQLite copy) each time it passes `every`."""
    shown = [0]

    def report(what: str, count: int) -> None:
        if count // every > shown[0] // every:
            typer.echo(f"  {label}: {what} {count}")
        shown[0] = count

    return report


@app.command()
def backup(
    file: Annotated[
        Path | None, typer.Argument(help="Backup file (default var/backups/pingan-<time>.db)")
    ] = None,
) -> None:
    """Write a consistent copy of the live database (a SQLite file). 备份。"""
    from pingan.auth import audit
    from pingan.db import backup as backup_mod
    from pingan.db.engine import get_engine, session_scope

    dest = file or get_settings().var_dir / "backups" / f"pingan-{datetime.now():%Y%m%d-%H%M%S}.db"
    rows = backup_mod.backup(get_engine(), dest, progress=_progress("备份 backing up"))
    with session_scope(actor="cli:backup") as session:
        audit.record(session, action="backup", entity="database", note=str(dest))
    typer.echo(f"已备份 backup written: {dest} ({rows} rows)")


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by `pingan backup`")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Replace all data with a backup's (all or nothing). 恢复。"""
    from pingan.auth import audit
    from pingan.db import backup as backup_mod
    from pingan.db.engine import get_engine, session_scope

    if not yes and not typer.confirm(
        f"用 {file} 替换 {_describe_db()} 中的全部数据？(replace all data?)"
    ):
        raise typer.Exit(1)
    rows = backup_mod.restore(
        get_engine(),
        file,
        progress=_progress("恢复 restoring"),
    )
    with session_scope(actor="cli:restore") as session:
        audit.record(session, action="restore", entity="database", note=str(file))
    typer.echo(f"已恢复 restored {rows} rows from {file}")


@app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help="sites | buildings | households | residents")],
    file: Annotated[Path, typer.Argument(help="CSV or XLSX filled in from `pingan template`")],
    crs: Annotated[
        str, typer.Option(help="Coordinates in the file: wgs84 | gcj02 | bd09")
    ] = "wgs84",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row, import nothing")
    ] = False,
) -> None:
    """Bulk import from a template; every row or none. 批量导入。"""
    from pingan.auth.principal import cli_principal
    from pingan.db.engine import session_scope
    from pingan.imports import service as import_service
    from pingan.territory.geo import CRS

    _require_schema()
    try:
        kind_value, crs_value = import_service.ImportKind(kind), CRS(crs)
    except ValueError as exc:
        _fail(
            str(exc), "kind: sites | buildings | households | residents; crs: wgs84 | gcj02 | bd09"
        )
        return
    if not file.is_file():
        _fail(f"找不到文件 file not found: {file}")
    actor = cli_principal("cli:import")
    try:
        with (
            session_scope(actor=actor.name) as session,
            typer.progressbar(length=0, label=f"导入 {kind}") as bar,
        ):
            report = import_service.run(
                session,
                actor=actor,
                kind=kind_value,
                data=file.read_bytes(),
                filename=file.name,
                crs=crs_value,
                dry_run=dry_run,
                progress=lambda _n: bar.update(1),
            )
    except import_service.ImportFailed as exc:
        for err in exc.report.errors:
            typer.echo(
                f"  第 {err.row} 行 row {err.row} [{err.field or '-'}]: {err.message}", err=True
            )
        _fail(
            t("import_failed", count=len({e.row for e in exc.report.errors})),
            "改正以上各行后重新导入 (fix the rows above and import again)",
        )
        return
    verb = "检查通过（未导入）checked, nothing imported" if dry_run else "已导入 imported"
    typer.echo(
        f"{verb}: {report.rows} 行 rows, 新建 created {report.created}, 更新 updated {report.updated}"
    )


@app.command()
def template(
    kind: Annotated[str, typer.Argument(help="sites | buildings | households | residents")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (.csv or .xlsx)")],
) -> None:
    """Write an import template. 导出导入模板。"""
    from pingan.imports import service as import_service

    try:
        kind_value = import_service.ImportKind(kind)
    except ValueError:
        _fail(f"未知类型 unknown kind {kind!r}", "sites | buildings | households | residents")
        return
    body = (
        import_service.template_xlsx(kind_value)
        if output.suffix == ".xlsx"
        else import_service.template_csv(kind_value)
    )
    output.write_bytes(body)
    typer.echo(f"已写出模板 template written: {output}")


@app.command()
def simulate(
    devices: Annotated[
        int, typer.Option("--devices", min=1, max=100_000, help="How many devices")
    ] = 50,
    rate: Annotated[
        float, typer.Option("--rate", min=0.01, help="Messages a second, all devices together")
    ] = 5,
    duration: Annotated[
        float | None, typer.Option(help="Seconds; omit to run until stopped")
    ] = None,
    url: Annotated[str, typer.Option(help="The platform (HTTP)")] = "http://127.0.0.1:8000",
    mqtt: Annotated[
        str | None, typer.Option(help="Broker for MQTT devices (default PINGAN_MQTT_URL)")
    ] = None,
    sia: Annotated[
        str | None,
        typer.Option(help="DC-09 receiver host:port (default 127.0.0.1:PINGAN_SIA_PORT)"),
    ] = None,
    within: Annotated[
        str | None, typer.Option(help="Only sites under this node: 柳城街道/鱼凫路社区")
    ] = None,
    fleet_name: Annotated[
        str | None,
        typer.Option(
            "--fleet",
            help="`demo`: keep the demo's registered devices alive instead of making --devices "
            "new ones (each heard from every 60 s; --rate is then worked out)",
        ),
    ] = None,
    alarms_per_hour: Annotated[
        float, typer.Option("--alarms-per-hour", min=0, help="With --fleet: alarms an hour")
    ] = 20,
) -> None:
    """Simulated devices sending realistic traffic to a running platform. 模拟设备流量。"""
    import httpx

    from pingan import sim
    from pingan.auth.principal import cli_principal
    from pingan.db.engine import session_scope
    from pingan.territory import service as territory_service

    _require_schema()
    settings = get_settings()
    actor = cli_principal("cli:simulate")
    with session_scope(actor=actor.name) as session:
        path = None
        if within:
            node = territory_service.get_by_names(
                session, names=[p for p in within.split("/") if p]
            )
            if node is None:
                _fail(f"找不到辖区节点 scope not found: {within}")
                return
            path = node.path
        try:
            if fleet_name == "demo":
                from pingan.demo_history import CODE_PREFIX

                fleet = sim.existing(session, prefix=CODE_PREFIX, within=path)
            elif fleet_name is not None:
                _fail(f"未知的 --fleet unknown fleet: {fleet_name}", "用 --fleet demo")
                return
            else:
                fleet = sim.register(session, actor=actor, count=devices, within=path)
        except LookupError as exc:
            _fail(str(exc), "先运行 pingan demo-data (load a territory first)")
            return
    mqtt_url = mqtt if mqtt is not None else settings.mqtt_url or None
    sia_addr = (
        sia
        if sia is not None
        else (f"127.0.0.1:{settings.sia_port}" if settings.sia_port else None)
    )
    try:
        channels = sim.Channels(url=url, mqtt_url=mqtt_url, sia=sia_addr)
    except OSError as exc:
        _fail(
            f"无法连接 MQTT 服务器 cannot reach the broker {mqtt_url}: {exc}",
            "检查 --mqtt，或不用 MQTT: --mqtt ''",
        )
        return
    mix: sim.Mix = sim.Mix(fleet)
    if fleet_name is not None:
        rate = sim.rounds_rate(len(fleet), every_s=60)
        alarm_share = alarms_per_hour / 3600 / rate
        mix = sim.Rounds(fleet, alarm_share=alarm_share, state_share=alarm_share * 5)
    by_protocol = {p: sum(1 for d in fleet if d.protocol == p) for p in ("mqtt", "http", "dc09")}
    typer.echo(f"模拟 {len(fleet)} 台设备 simulating devices {by_protocol}, {rate:.1f}/s → {url}")

    def alive() -> bool:
        try:
            return httpx.get(f"{url.rstrip('/')}/healthz", timeout=5).status_code < 500
        except httpx.HTTPError:
            return False

    # Wait for the platform (make run starts both together); later, wait for it again whenever
    # it stops answering.
    for _ in range(120):
        if alive():
            break
        time.sleep(1)
    else:
        channels.close()
        _fail(
            f"平台未响应 the platform at {url} does not answer",
            "先运行 pingan serve (start the platform first)",
        )

    def report(c: sim.Counts) -> None:
        typer.echo(
            f"  已发送 sent mqtt {c.mqtt} · http {c.http} · dc09 {c.dc09} · 错误 errors {c.errors}"
            + (f" ({c.last_error})" if c.last_error else "")
        )

    try:
        counts = sim.run(
            channels,
            mix,
            rate=rate,
            duration=duration,
            progress=report,
            alive=alive,
            say=lambda m: typer.echo(m, err=True),
        )
    except KeyboardInterrupt:
        counts = channels.counts
    finally:
        channels.close()
    report(counts)


# The domains' benches that run each database in turn: name → (module, function).
DOMAIN_BENCHES = {
    "patrol": ("pingan.patrol.bench", "patrol"),
    "incidents": ("pingan.incidents.bench", "incidents"),
    "facilities": ("pingan.facilities.bench", "facilities"),
    "volunteers": ("pingan.volunteers.bench", "volunteers"),
}


@app.command()
def bench(
    what: Annotated[
        str,
        typer.Argument(
            help="alarms | faces | patrol | incidents | facilities | volunteers | concurrency"
        ),
    ],
    backends: Annotated[str, typer.Option(help="sqlite,postgresql")] = "sqlite,postgresql",
    pg_url: Annotated[
        str, typer.Option(help="PostgreSQL for the postgresql run")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    step_s: Annotated[float, typer.Option(help="Seconds per rate step")] = 6,
    photos: Annotated[Path, typer.Option(help="faces: labelled photos, <person>/<photo>")] = Path(
        "../shared/data/faces"
    ),
    sizes: Annotated[str, typer.Option(help="faces: gallery sizes")] = "10000,100000,1000000",
    seconds: Annotated[float, typer.Option(help="concurrency: seconds of mixed load")] = 60,
) -> None:
    """Measure and print JSON figures. 性能测试。"""
    from pingan import bench as bench_mod

    if what == "faces":
        from pingan.faces import bench as face_bench

        if not photos.is_dir():
            _fail(f"找不到照片文件夹 no photo folder: {photos}", "--photos DIR (<person>/<photo>)")
        figures = face_bench.faces(
            photos,
            [int(n) for n in sizes.split(",") if n.strip()],
            progress=lambda m: typer.echo(m, err=True),
        )
        typer.echo(json.dumps(figures, indent=2))
        return
    if what == "concurrency":
        from pingan.bench_concurrency import concurrency

        if not photos.is_dir():
            _fail(f"找不到照片文件夹 no photo folder: {photos}", "--photos DIR (<person>/<photo>)")
        figures = concurrency(
            backends=[b.strip() for b in backends.split(",") if b.strip()],
            pg_url=pg_url,
            photos=photos,
            seconds=seconds,
            progress=lambda m: typer.echo(m, err=True),
        )
        typer.echo(json.dumps(figures, indent=2))
        return
    if what in DOMAIN_BENCHES:
        module, function = DOMAIN_BENCHES[what]
        measure = getattr(importlib.import_module(module), function)
        figures = measure(
            backends=[b.strip() for b in backends.split(",") if b.strip()],
            pg_url=pg_url,
            progress=lambda m: typer.echo(m, err=True),
        )
        typer.echo(json.dumps(figures, indent=2))
        return
    if what != "alarms":
        _fail(
            f"unknown benchmark {what!r}",
            "pingan bench alarms | faces | patrol | incidents | facilities | volunteers | concurrency",
        )
    result = bench_mod.alarms(
        backends=[b.strip() for b in backends.split(",") if b.strip()],
        pg_url=pg_url,
        step_s=step_s,
        progress=lambda m: typer.echo(m, err=True),
    )
    typer.echo(json.dumps(result, indent=2))


@app.command()
def keygen() -> None:
    """Print a new data key for PINGAN_DATA_KEY (faces, door cards and PINs). 生成数据密钥。"""
    from pingan.faces.vault import new_key

    typer.echo(new_key())
    typer.echo(
        "把它设为 PINGAN_DATA_KEY 并与备份分开妥善保存；丢失后人脸数据无法解密。\n"
        "Set it as PINGAN_DATA_KEY and keep it safe, apart from the backups: without it the "
        "face data cannot be opened.",
        err=True,
    )


@faces_app.command("enroll")
def faces_enroll(
    person: Annotated[int, typer.Argument(help="The person's id (GET /api/v1/people)")],
    photos: Annotated[list[Path], typer.Argument(help="1–5 photos: JPEG, PNG or WebP")],
) -> None:
    """Enrol a person's face; needs their recorded consent. 人脸录入（须已登记本人同意）。"""
    from pingan.auth.principal import cli_principal
    from pingan.db.engine import session_scope
    from pingan.faces import service as face_service
    from pingan.faces.analysis import analyse_with, make_engine
    from pingan.faces.engine import EngineError
    from pingan.faces.vault import KeyMissing, Vault
    from pingan.territory.models import Person

    _require_schema()
    settings = get_settings()
    try:
        vault = Vault.from_setting(settings.data_key)
        engine = make_engine(settings.face_engine, settings.face_model_dir)
    except (KeyMissing, EngineError) as exc:
        _fail(str(exc))
        return
    analysed = []
    for path in photos:
        if not path.is_file():
            _fail(f"找不到文件 file not found: {path}")
        try:
            analysed.append((path.name, analyse_with(engine, path.read_bytes())))
        except ValueError as exc:
            _fail(f"{path}: {exc}")
    actor = cli_principal("cli:faces")
    with session_scope(actor=actor.name) as session:
        found = session.get(Person, person)
        if found is None:
            _fail(f"没有编号为 {person} 的人员 (no person {person})", "GET /api/v1/people?q=姓名")
            return
        try:
            results = face_service.enrol(
                session,
                actor=actor,
                person=found,
                photos=analysed,
                engine_id=engine.id,
                vault=vault,
            )
        except PinganError as exc:
            _fail(
                t(exc.key, **exc.params),
                "先登记本人同意：POST /api/v1/people/{id}/face-consents (record consent first)",
            )
            return
    for result in results:
        if result.accepted:
            typer.echo(f"  ✓ {result.photo}: 已录入 enrolled (template {result.template_id})")
        else:
            typer.echo(f"  ✗ {result.photo}: {result.reason} ({result.reason_key})")
    if not any(r.accepted for r in results):
        _fail("没有照片被录入 (no photo was enrolled)", "按以上原因重拍后再试 (retake and retry)")


@faces_app.command("purge")
def faces_purge() -> None:
    """Delete face snapshots and unknown faces past their retention period now (the platform
    also does it hourly). 清理超期人脸数据。"""
    from pingan.db.engine import session_scope
    from pingan.faces import retention

    _require_schema()
    settings = get_settings()
    with session_scope(actor="cli:retention") as session:
        done = retention.purge(
            session,
            snapshot_days=settings.face_snapshot_days,
            unknown_days=settings.face_unknown_days,
        )
    typer.echo(
        f"已清理 purged: {done.snapshots} 张抓拍 snapshots (> {settings.face_snapshot_days} 天 days), "
        f"{done.unknown} 条陌生人脸 unknown faces (> {settings.face_unknown_days} 天 days)"
    )


def _embedded_folders(
    folder: Path, distractors: Path | None, *, every_multi: bool
) -> tuple[Any, Any, dict[str, Any], list[Any], float, dict[str, str]]:
    """Every photo of the labelled folder (and the strangers') embedded, with a progress bar."""
    from pingan.faces import calibration as cal

    settings = get_settings()
    if not folder.is_dir():
        _fail(f"找不到文件夹 folder not found: {folder}", "DIR 为 <人>/<照片> 的文件夹")
    if distractors is not None and not distractors.is_dir():
        _fail(f"找不到文件夹 folder not found: {distractors}", "--distractors <人>/<照片>")
    people = cal.labelled_photos(folder)
    strangers = cal.labelled_photos(distractors) if distractors else []
    no_face = cal.special_photos(folder, "_no_face")
    multi = cal.special_photos(folder, "_multi") if every_multi else []
    jobs = [
        *((i, p, False) for i, p in people),
        *((i, p, False) for i, p in strangers),
        *(("_no_face", p, False) for p in no_face),
        *(("_multi", p, True) for p in multi),
    ]
    if not people:
        _fail(
            f"{folder}: 没有照片 no photos", "DIR 为 <人>/<照片> 的文件夹 (one folder per person)"
        )
    with typer.progressbar(length=len(jobs), label="人脸特征 embedding", file=sys.stderr) as bar:
        results, ms = cal.embed(
            jobs,
            kind=settings.face_engine,
            model_dir=settings.face_model_dir,
            workers=cal.workers_default(),
            progress=lambda done, total: bar.update(1),
        )
    embedded_people = cal.collect(people, results)
    embedded_strangers = cal.collect(strangers, results) if strangers else None
    no_face_report = {
        "photos": len(no_face),
        "faces_found": sum(1 for p in no_face if results[str(p)][1]),
        "unreadable": [str(p) for p in no_face if results[str(p)][3]],
    }
    multi_photos = [(str(p), results[str(p)]) for p in multi]
    groups = {**cal.populations(folder), **(cal.populations(distractors) if distractors else {})}
    return embedded_people, embedded_strangers, no_face_report, multi_photos, ms, groups


@faces_app.command("calibrate")
def faces_calibrate(
    folder: Annotated[Path, typer.Argument(help="Labelled photos: <person>/<photo>")],
    distractors: Annotated[
        Path | None, typer.Option(help="Photos of strangers (<person>/<photo>), never enrolled")
    ] = None,
) -> None:
    """Measure the engine's open-set rule on labelled photos (and strangers) and store it: the
    doors decide by it from now on. 校准人脸门禁的判定规则。"""
    from pingan.db.engine import session_scope
    from pingan.faces import calibration as cal
    from pingan.faces import service as face_service
    from pingan.faces.analysis import make_engine

    _require_schema()
    settings = get_settings()
    engine_id = make_engine(settings.face_engine, settings.face_model_dir).id
    people, strangers, _no_face, _multi, _ms, groups = _embedded_folders(
        folder, distractors, every_multi=False
    )
    try:
        rule = cal.measure_rule(
            engine_id,
            people,
            strangers,
            groups=groups,
            source=folder.name + (f"+{distractors.name}" if distractors else ""),
        )
    except ValueError as exc:
        _fail(str(exc), "--distractors DIR: 加入更多陌生人照片 (add photos of strangers)")
        return
    with session_scope(actor="cli:faces") as session:
        face_service.store_rule(session, rule=rule)
    summary = {
        "engine": rule.engine,
        "population": rule.population,
        "margin": rule.margin,
        "verification_threshold": rule.verification,
        "thresholds": {str(n): rule.threshold(n) for n in (1, 100, 1000, 3000, 10000)},
        "impostor_pairs": rule.impostor_pairs,
        "genuine_probes": rule.genuine_probes,
    }
    typer.echo(json.dumps(summary, ensure_ascii=False))


@faces_app.command("eval")
def faces_eval(
    folder: Annotated[Path, typer.Argument(help="Labelled photos: <person>/<photo>")],
    distractors: Annotated[
        Path | None, typer.Option(help="Photos of strangers (<person>/<photo>), never enrolled")
    ] = None,
    gallery_sizes: Annotated[
        str, typer.Option(help="Gallery sizes to pad to, in templates")
    ] = "100,1000,10000",
    fpir: Annotated[float, typer.Option(help="Target share of strangers matched")] = 0.001,
) -> None:
    """How well the engine and the doors' rule do on labelled photos, as JSON: verification,
    rank-1, and open-set identification (FPIR, FNIR) at each gallery size, decided by the same
    function the doors use. 评估人脸识别。"""
    from pingan.faces import calibration as cal
    from pingan.faces.analysis import make_engine

    settings = get_settings()
    try:
        sizes = sorted({int(n) for n in gallery_sizes.split(",") if n.strip()})
    except ValueError:
        _fail(f"--gallery-sizes 须为逗号分隔的整数 must be whole numbers: {gallery_sizes}")
        return
    engine_id = make_engine(settings.face_engine, settings.face_model_dir).id
    people, strangers, no_face, multi, ms, _groups = _embedded_folders(
        folder, distractors, every_multi=True
    )
    rule = _stored_or_shipped_rule(engine_id)
    plain = cal.gallery_of(people, cal._split(people)[0])
    multi_report = [
        {
            "photo": photo,
            "error": error,
            "faces": [
                {
                    "box": [round(v, 1) for v in box],
                    "best": plain.names[c[0].person_id] if c else None,
                    "score": round(c[0].score, 4) if c else None,
                }
                for vector, box in zip(vectors, boxes, strict=True)
                for c in [plain.candidates(vector, limit=1)]
            ],
        }
        for photo, (_p, vectors, boxes, error) in multi
    ]
    report = cal.evaluate(
        people,
        strangers,
        rule=rule,
        sizes=sizes,
        fpir=fpir,
        no_face=no_face,
        multi=multi_report,
        ms_per_image=ms,
    )
    typer.echo(json.dumps(report, ensure_ascii=False, indent=1))


def _stored_or_shipped_rule(engine_id: str) -> Any:
    """The rule the doors use: stored by `pingan faces calibrate` when there is a database."""
    from pingan.faces import service as face_service
    from pingan.faces.calibration import shipped

    try:
        from pingan.db.engine import session_scope

        with session_scope(actor="cli:faces") as session:
            return face_service.rule_for(session, engine_id=engine_id)
    except Exception:  # no database here: the shipped rule is the one doors would start with
        rule = shipped().get(engine_id)
        if rule is None:
            _fail(
                f"引擎 {engine_id} 未校准 not calibrated",
                "pingan faces calibrate DIR --distractors DIR",
            )
        return rule


def main() -> None:
    try:
        app()
    except UnknownSetting as exc:
        typer.secho(f"错误 error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except PinganError as exc:
        params = dict(exc.params)
        params.setdefault("fields", exc.field or "")
        typer.secho(f"错误 error: {t(exc.key, **params)}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except Exception as exc:
        from pydantic import ValidationError
        from sqlalchemy.exc import OperationalError

        from pingan.db.backup import BackupError

        if isinstance(exc, BackupError):
            message = str(exc)
        elif isinstance(exc, ValidationError):
            message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        elif isinstance(exc, OperationalError):
            message = f"无法连接数据库 cannot reach the database ({exc.orig}); 检查 check PINGAN_DATABASE_URL"
        else:
            raise
        typer.secho(f"错误 error: {message}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
