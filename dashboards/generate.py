"""Writes the commune detail, speakers/broadcasts and hub internals dashboards (dashboards/*.json).

Run `.venv/bin/python dashboards/generate.py` after editing; the JSON files are what Grafana provisions and
what tests/e2e/test_dashboards.py runs against a real InfluxDB. Every query is raw InfluxQL on the provisioned
datasource (uid `influxdb-ops`); measurements and fields are those of docs/INFLUX.md. The camera health
overview (camera-health-overview.json) is maintained by hand.

One module per dashboard (commune_detail.py, speakers_broadcasts.py, hub_internals.py), built from the shared
pieces in grafana_json.py; they import each other as siblings, as this script runs from its own folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from commune_detail import commune_detail
from hub_internals import hub_internals
from speakers_broadcasts import speakers

HERE = Path(__file__).resolve().parent


DASHBOARDS = {
    "commune-detail.json": commune_detail,
    "speakers-broadcasts.json": speakers,
    "hub-internals.json": hub_internals,
}


def main() -> None:
    for name, build in DASHBOARDS.items():
        text = json.dumps(build(), ensure_ascii=False, indent=2) + "\n"
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote dashboards/{name}")


if __name__ == "__main__":
    main()
