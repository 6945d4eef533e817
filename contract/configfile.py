"""Load a YAML config file into a pydantic model, with errors that name the file, the key path and the line.

Shared by edge_agent, hub and the broadcast receiver so that every config error reads the same way.
`${NAME}` in a string value is replaced from the environment (secrets stay out of files); `${NAME:-default}`
gives a fallback.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)

_ENV_RE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


class ConfigError(ValueError):
    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"invalid config {path}:\n" + "\n".join(f"  - {p}" for p in problems))


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping key, for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    lines = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        lines[key] = key_node.start_mark.line + 1
    mapping["__lines__"] = lines
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(obj: Any, prefix: tuple[Any, ...], index: dict[tuple[Any, ...], int]) -> Any:
    if isinstance(obj, dict):
        lines = obj.pop("__lines__", {})
        for k, line in lines.items():
            index[(*prefix, k)] = line
        return {k: _strip_lines(v, (*prefix, k), index) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_strip_lines(v, (*prefix, i), index) for i, v in enumerate(obj)]
    return obj


def _expand_env(obj: Any, missing: list[str]) -> Any:
    if isinstance(obj, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            missing.append(name)
            return ""

        return _ENV_RE.sub(sub, obj)
    if isinstance(obj, dict):
        return {k: _expand_env(v, missing) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_expand_env(v, missing) for v in obj]
    return obj


def validate_data(
    model: type[M], data: Any, source: str = "<config>", lines: dict[tuple[Any, ...], int] | None = None
) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            path = ".".join(str(p) for p in loc) or "(root)"
            line = None
            if lines:
                for n in range(len(loc), 0, -1):
                    if loc[:n] in lines:
                        line = lines[loc[:n]]
                        break
            where = f"line {line}: " if line else ""
            problems.append(f"{where}{path}: {err['msg']}")
        raise ConfigError(source, problems) from exc


def parse_text(model: type[M], text: str, source: str = "<config>") -> M:
    try:
        raw = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [f"not valid YAML: {exc}"]) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, ["the file must hold a mapping of settings at the top level"])
    lines: dict[tuple[Any, ...], int] = {}
    data = _strip_lines(raw, (), lines)
    missing: list[str] = []
    data = _expand_env(data, missing)
    if missing:
        raise ConfigError(source, [f"environment variable {n} is not set" for n in sorted(set(missing))])
    return validate_data(model, data, source, lines)


def load(model: type[M], path: str | Path) -> M:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(p), [f"cannot read the file: {exc.strerror or exc}"]) from exc
    return parse_text(model, text, str(p))
