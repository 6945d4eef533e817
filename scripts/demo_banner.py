"""What the demo prints once everything runs: the URL, the logins, where the logs and Zalo messages are."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO


def print_banner(
    url: str, run_dir: Path, users: list[tuple[str, str, str]], out: IO[str] = sys.stdout
) -> None:
    lines = [
        "",
        f"  Demo ready: {url}",
        "",
        "  Logins:",
        *(f"    {name:<10} {password:<18} {what}" for name, password, what in users),
        "",
        f"  Logs:   {run_dir / 'logs'}/  (warnings and errors are shown here; --verbose for everything)",
        f'  API token for scripts: {run_dir / "demo-token"}  (curl -H "Authorization: Bearer $(cat …)")',
        f"  Zalo:   {url}/alerts/outbox  (dry run: what the hub would send; docs/NOTIFY.md: live against "
        "python -m devtools.fakezalo)",
        "  Stop:   Ctrl-C",
        "",
    ]
    out.write("\n".join(lines) + "\n")
    out.flush()
