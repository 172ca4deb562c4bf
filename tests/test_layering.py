"""kernels/ is pure compute: the harness (bench/) may import it, never the other way round."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

KERNELS = Path(__file__).resolve().parent.parent / "kernels"


def _imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted(KERNELS.glob("*.py")), ids=lambda p: p.name)
def test_kernels_import_nothing_from_bench(path):
    from_bench = [name for name in _imported_modules(path) if name == "bench" or name.startswith("bench.")]
    assert not from_bench, f"{path.name} imports {', '.join(from_bench)}"
