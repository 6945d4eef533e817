"""Export the JSON Schema of every payload model: `python -m contract.schema [OUT_DIR]` (default docs/schema)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from contract.codec import PAYLOADS
from contract.orders import ORDER_MODELS, SignedOrder
from contract.payloads import SnapshotMeta
from contract.topics import Channel


def schemas() -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for (kind, channel), model in sorted(PAYLOADS.items(), key=lambda kv: (kv[0][0].value, kv[0][1].value)):
        if model is None:
            continue
        if channel is Channel.CMD:
            # On the wire a command is the signed envelope; the order inside has its own schema.
            out[f"{kind.value}.cmd"] = SignedOrder.model_json_schema()
            out[f"{kind.value}.cmd.order"] = ORDER_MODELS[kind].model_json_schema()
            continue
        out[f"{kind.value}.{channel.value}"] = model.model_json_schema()
    out["camera.snapshot.properties"] = SnapshotMeta.model_json_schema()
    return out


def render(name: str, schema: dict[str, object]) -> str:
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"ops/v1/{name}", **schema}
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = out_dir / f"{name}.schema.json"
        path.write_text(render(name, schema), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("docs/schema")
    for path in write(out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
