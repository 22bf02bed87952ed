"""Loading the guide: a missing or broken file is a GuideError naming the key; `guide()` caches by file time."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from pipelines.config import settings
from pipelines.guide.model import Guide


class GuideError(Exception):
    """The guide file is missing or broken; the message names the offending key."""


def _locate(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return ".".join(str(p) for p in err["loc"]) or "(root)"


def load_guide(path: str | Path | None = None) -> Guide:
    """Load and check the guide; raise GuideError naming the broken key."""
    path = Path(path or settings().guide_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise GuideError(f"指标指南文件不存在：{path}") from e
    except yaml.YAMLError as e:
        raise GuideError(f"指标指南文件 {path} 不是有效的 YAML：{e}") from e
    try:
        return Guide.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise GuideError(f"指标指南文件 {path} 有误，位置 {_locate(e)}：{err['msg']}") from e


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> Guide:
    return load_guide(path)


def guide(path: str | Path | None = None) -> Guide:
    """The current guide, re-read when the file changes."""
    p = Path(path or settings().guide_path)
    return _cached(str(p), p.stat().st_mtime if p.exists() else 0.0)
