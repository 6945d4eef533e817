"""Command line of the hub: run it, check a config file; users and API tokens are in hub/cli_users.py; the
database's schema, backups and restores in hub/maintenance/commands.py; the CA, the broker's account file and
device accounts in hub/cli_broker.py; areas in hub/cli_areas.py.

Exit codes: 0 done; 1 the operation failed (unknown user, weak password…); 2 bad config or usage;
3 `user add` for a user that exists (without --if-missing); 4 the database's schema is behind this code
(or ahead of it): `db upgrade`, or `database.auto_upgrade`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from contract.configfile import ConfigError
from hub import cli_areas, cli_broker, cli_users
from hub.cli_common import EXIT_CONFIG, EXIT_OK, CliError, open_db
from hub.compose import load_config
from hub.core.config import CoreConfig, partition_map
from hub.core.config_mqtt import SecretFileError
from hub.maintenance.commands import COMMANDS, EXIT_SCHEMA, CommandFailed, add_commands, run_command
from hub.migrations import schema

DEFAULT_CONFIG = "config/hub.yaml"


def _parser() -> argparse.ArgumentParser:
    # --config is accepted before or after the command; SUPPRESS keeps a sub-level default from hiding it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="YAML config (env HUB_CONFIG, else config/hub.yaml)"
    )
    p = argparse.ArgumentParser(
        prog="python -m hub", description="Hub: ingest, web UI, JSON API", parents=[common]
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command")
    run = sub.add_parser("run", parents=[common], help="run the hub and its web app (default)")
    run.add_argument(
        "--role",
        choices=["all", "ingest", "web"],
        default="all",
        help="several hubs (cluster.enabled): ingest = partitions and leader work, no web; "
        "web = pages, API and live events only; all = both (default)",
    )
    sub.add_parser("check-config", parents=[common], help="validate the config file and exit")

    cli_users.add_user_parsers(sub, common)

    backfill = sub.add_parser(
        "influx-backfill",
        parents=[common],
        help="recompute InfluxDB's 5-minute and 1-hour series for a past range (points that came in late)",
    )
    backfill.add_argument("--hours", type=float, default=24.0, help="how far back from now (default 24)")

    cli_users.add_token_parsers(sub, common)
    add_commands(sub, common)
    cli_broker.add_parsers(sub, common)
    cli_areas.add_parsers(sub, common)
    return p


def _config(args: argparse.Namespace) -> tuple[str, CoreConfig]:
    path = getattr(args, "config", None) or os.environ.get("HUB_CONFIG") or DEFAULT_CONFIG
    try:
        config = load_config(path)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    try:
        ZoneInfo(config.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CliError(
            f"invalid config {path}:\n  - timezone: unknown time zone {config.timezone!r}", EXIT_CONFIG
        ) from None
    try:
        make_url(config.database.url)
    except Exception:
        raise CliError(f"invalid config {path}:\n  - database.url: not a database URL", EXIT_CONFIG) from None
    return path, config


async def _influx_backfill(args: argparse.Namespace, config: CoreConfig) -> int:
    """The downsampling over [now - hours, now): after an edge box replayed a long outage (docs/INFLUX.md)."""
    from datetime import UTC, datetime, timedelta

    from hub.core.influx import make_retention
    from hub.core.influx_retention import InfluxSchemaError
    from hub.core.influx_send import InfluxUnavailable

    if not config.influx.enabled or not config.influx.retention.manage:
        raise CliError("influx.retention.manage is off: the hub does not downsample", EXIT_CONFIG)
    # hub_stats: the fields InfluxDB holds (1.x; this command does not know the running hub's gauges)
    layout = make_retention(config.influx, dict)
    assert layout is not None
    end = datetime.now(UTC)
    try:
        n = await layout.backfill(end - timedelta(hours=args.hours), end)
    except (InfluxUnavailable, InfluxSchemaError) as exc:
        raise CliError(f"InfluxDB: {exc}") from None
    print(f"Đã tính lại chuỗi 5 phút và 1 giờ cho {args.hours:g} giờ qua ({n})")
    return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command or "run"
    path, config = _config(args)
    if command == "check-config":
        print(
            f"Cấu hình hợp lệ: {path} (web {config.http.host}:{config.http.port}, MQTT {config.mqtt.host}:{config.mqtt.port})"
        )
        print(_cluster_summary(config))
        return EXIT_OK
    if command in COMMANDS:
        return run_command(args, config, Path(path))
    try:
        return _dispatch_on_db(args, command, config)
    except schema.SchemaError as exc:
        raise CliError(schema.for_config(exc, path), EXIT_SCHEMA) from None


def _dispatch_on_db(args: argparse.Namespace, command: str, config: CoreConfig) -> int:
    if command == "run":
        from hub.server import serve

        role = getattr(args, "role", "all")
        if role != "all" and not config.cluster.enabled:
            raise CliError(f"--role {role} cần cluster.enabled (nhiều hub trên PostgreSQL)", EXIT_CONFIG)
        try:
            return asyncio.run(serve(config, role=role))
        except schema.SchemaError:
            raise
        except SecretFileError as exc:  # the MQTT password or an InfluxDB token file missing or empty
            raise CliError(f"hub không khởi động được: {exc}", EXIT_CONFIG) from None
        except (OSError, RuntimeError, SQLAlchemyError) as exc:
            logging.getLogger("hub").exception("hub stopped on an error")
            raise CliError(f"hub dừng vì lỗi: {exc}") from None
    if command in cli_broker.COMMANDS:
        try:
            return cli_broker.dispatch(args, config, open_db)
        except cli_broker.BrokerCliError as exc:
            raise CliError(str(exc), exc.code) from None
    if command in cli_areas.COMMANDS:
        try:
            return cli_areas.dispatch(args, config, open_db)
        except cli_areas.AreasCliError as exc:
            raise CliError(str(exc), exc.code) from None
    if command == "influx-backfill":
        return asyncio.run(_influx_backfill(args, config))
    return cli_users.dispatch(args, command, config)


def _cluster_summary(config: CoreConfig) -> str:
    if not config.cluster.enabled:
        return "Một hub (cluster.enabled: false); nhiều hub cần PostgreSQL và cluster.enabled: true"
    parts = partition_map(config)
    cl = config.cluster
    return (
        f"Nhiều hub: hub_id {cl.hub_id}, {len(parts)} phân vùng ({', '.join(parts)}), "
        f"lease {cl.lease_ttl_s:g} s (gia hạn mỗi {cl.lease_renew_s:g} s)"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _dispatch(args)
    except (CliError, CommandFailed) as exc:
        print(f"lỗi: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
