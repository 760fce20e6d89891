"""The layers import downwards only (../shared/DESIGN.md): a lower package never imports a higher one."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mmret"
SURFACES = {"api", "cli", "models", "search", "serve", "demo", "demo_video", "distributed"}
FORBIDDEN = {  # package -> the mmret modules it must not import
    "data": {"encoders", "index", "training", "eval", "fusion", "losses", "pipeline"} | SURFACES,
    "index": {"data", "encoders", "training", "eval", "fusion", "losses", "pipeline"} | SURFACES,
    "losses": {"data", "encoders", "index", "training", "eval", "pipeline"} | SURFACES,
    "encoders": {"index", "training", "eval", "losses", "pipeline"} | SURFACES,
    "fusion": {"data", "encoders", "index", "training", "eval", "losses", "pipeline"} | SURFACES,
    "eval": {"training", "index", "pipeline"} | SURFACES,
    "training": {"index", "pipeline"} | SURFACES,
    "pipeline": {"training", "eval"} | SURFACES,
}


def mmret_imports(file: Path) -> set[str]:
    """The top-level mmret modules (packages under src/mmret) that a file imports, absolutely or relatively."""
    here = file.relative_to(PACKAGE).parent.parts  # the file's package inside mmret
    found = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("mmret."))
        elif isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".") if node.module else []
            if node.level == 0:
                target = module[1:] if module[:1] == ["mmret"] else None
            else:
                target = [*here[:len(here) - (node.level - 1)], *module]
            if target is not None:
                found.update(target[:1] or [alias.name for alias in node.names])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_no_higher_layer(package):
    offenders = {str(file.relative_to(PACKAGE)): sorted(mmret_imports(file) & FORBIDDEN[package])
                 for file in (PACKAGE / package).rglob("*.py")}
    assert {file: bad for file, bad in offenders.items() if bad} == {}


CONCRETE_BACKENDS = ("mmret.index.collection", "mmret.index.milvus")  # behind index/collection_base.py


def imported_modules(file: Path) -> set[str]:
    """The full dotted names of the modules a file imports (`from .x import y` also as `x.y`, y may be a module)."""
    package = ["mmret", *file.relative_to(PACKAGE).parent.parts]
    found = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *((node.module or "").split(".") if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_no_module_outside_index_imports_a_concrete_backend():
    offenders = {str(file.relative_to(PACKAGE)): sorted(
        name for name in imported_modules(file)
        if any(name == backend or name.startswith(backend + ".") for backend in CONCRETE_BACKENDS))
        for file in PACKAGE.rglob("*.py") if file.relative_to(PACKAGE).parts[0] != "index"}
    assert {file: bad for file, bad in offenders.items() if bad} == {}
