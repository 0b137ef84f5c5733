"""Strict loading, overriding and saving of `ExperimentConfig`.

Order: schema defaults -> `configs/<name>.yaml` (and its `base:` chain) ->
dotted `--set key=value` overrides -> `validate()`. Unknown keys and wrong
types are errors that name the key and the file.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any, Iterable

import yaml

from dpig_tf.config import ConfigError
from dpig_tf.config import ExperimentConfig

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "demo.yaml"


def resolve_config_path(name_or_path: str) -> pathlib.Path:
    """Accepts `configs/market.yaml`, `market.yaml` or `market`."""
    candidates = [pathlib.Path(name_or_path)]
    stem = pathlib.Path(name_or_path).name
    if not stem.endswith((".yaml", ".yml")):
        stem += ".yaml"
    candidates += [CONFIG_DIR / stem]
    for path in candidates:
        if path.is_file():
            return path
    names = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"config file {name_or_path!r} not found (named configs: {names})")


def load_config(path: str | pathlib.Path | None = None,
                overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Loads a named config (default: demo), applies overrides, validates."""
    path = resolve_config_path(str(path)) if path else DEFAULT_CONFIG
    cfg = ExperimentConfig()
    for layer_path, layer in _yaml_chain(path):
        _apply_mapping(cfg, layer, prefix="", source=str(layer_path))
    for item in overrides:
        apply_override(cfg, item)
    return cfg.validate()


def apply_override(cfg: ExperimentConfig, item: str) -> None:
    """Applies one `key=value` (value parsed as YAML) to `cfg` in place."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. stage1.steps=100")
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {key}: cannot parse value {raw!r}: {err}") from None
    _set_dotted(cfg, key.strip(), value, source="--set")


def config_to_dict(cfg) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def config_from_dict(data: dict[str, Any], source: str = "<dict>") -> ExperimentConfig:
    cfg = ExperimentConfig()
    _apply_mapping(cfg, data, prefix="", source=source)
    return cfg


def dump_config(cfg: ExperimentConfig, path: str | pathlib.Path) -> None:
    """Writes `cfg` as YAML atomically (a kill never leaves a half-written config.yaml)."""
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(to_yaml(cfg))
    os.replace(tmp, path)


def to_yaml(cfg: ExperimentConfig) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False)


def read_saved_config(path: str | pathlib.Path) -> ExperimentConfig:
    """Reads a resolved config written by `dump_config` (e.g. RUN/config.yaml)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no saved config (is this a dpig_tf run directory?)")
    data = _read_yaml(path)
    return config_from_dict(data, source=str(path)).validate()


# ---------------------------------------------------------------------------
def _read_yaml(path: pathlib.Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"expected valid YAML, found a syntax error ({problem})", str(path),
                          mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def _yaml_chain(path: pathlib.Path, seen=()) -> list[tuple[pathlib.Path, dict]]:
    """The `base:` chain of a config file, most basic first."""
    if path in seen:
        raise ConfigError(f"{path}: circular `base:` chain")
    data = _read_yaml(path)
    base = data.pop("base", None)
    chain = _yaml_chain(resolve_config_path(base), seen + (path,)) if base else []
    return chain + [(path, data)]


def _apply_mapping(obj, mapping: dict, prefix: str, source: str) -> None:
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        field = _field(obj, key, dotted, source)
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {dotted} must be a mapping of its fields")
            _apply_mapping(current, value, dotted + ".", source)
        else:
            setattr(obj, key, _coerce(field, value, dotted, source))


def _set_dotted(cfg, dotted: str, value, source: str) -> None:
    *parents, leaf = dotted.split(".")
    obj = cfg
    path = ""
    for part in parents:
        path += part
        _field(obj, part, path, source)
        obj = getattr(obj, part)
        if not dataclasses.is_dataclass(obj):
            raise ConfigError(f"{source}: {path} is not a section")
        path += "."
    field = _field(obj, leaf, dotted, source)
    if dataclasses.is_dataclass(getattr(obj, leaf)):
        raise ConfigError(f"{source}: {dotted} is a section; set one of its fields")
    setattr(obj, leaf, _coerce(field, value, dotted, source))


def _field(obj, key: str, dotted: str, source: str) -> dataclasses.Field:
    fields = {f.name: f for f in dataclasses.fields(obj)}
    if key not in fields:
        known = ", ".join(sorted(fields))
        raise ConfigError(f"{source}: unknown config key {dotted!r} (known here: {known})")
    return fields[key]


def _coerce(field: dataclasses.Field, value, dotted: str, source: str):
    # `from __future__ import annotations` makes field.type the string "int" etc.
    kind = {"int": int, "float": float, "bool": bool, "str": str}[str(field.type)]
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
        if value is None:
            return ""
    raise ConfigError(
        f"{source}: {dotted} must be of type {kind.__name__}, got {value!r} "
        f"({type(value).__name__})")
