"""Saving result files: atomically (temp file + rename), so a reader sees the old file or the new
one, never half; and where they go."""

from __future__ import annotations

import json
import math
import os
import secrets
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def write_atomic(path: Path, document: dict[str, Any], *, exclusive: bool = False) -> None:
    """Write JSON to ``path`` so that a reader sees the old file or the new one, never half.

    ``exclusive``: the file must not exist yet (FileExistsError otherwise), so two runs that
    picked the same name never overwrite each other: the temp file is hard-linked into place,
    which fails atomically when the name is taken. Files get the umask's usual mode (0644), not
    mkstemp's 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=False, allow_nan=False, default=_jsonable)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            os.link(temp_name, path)
            os.unlink(temp_name)
        else:
            os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a result file")


def clean_floats(value: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_floats(v) for v in value]
    return value


def result_path(out_dir: Path, machine: str, timestamp: str, device_slug: str, suffix: str = "") -> Path:
    return out_dir / machine / f"{timestamp}_{device_slug}{'_' + suffix if suffix else ''}.json"


def new_result_path(out_dir: Path, machine: str, device_slug: str, now: datetime | None = None) -> Path:
    """A name no other run picks: a millisecond UTC timestamp, then this process's id and random hex.

    Sorted by name, files still sort by start time; the runner also creates the file exclusively.
    """
    now = now or datetime.now(timezone.utc)
    timestamp = now.strftime("%Y%m%dT%H%M%S") + f".{now.microsecond // 1000:03d}Z"
    return result_path(out_dir, machine, timestamp, device_slug, f"{os.getpid():x}{secrets.token_hex(3)}")


def rescue_path(path: Path) -> Path:
    """Where a document goes when ``path`` cannot be written: a joulebench folder in the temp dir."""
    return Path(tempfile.gettempdir()) / "joulebench-unsaved" / path.name
