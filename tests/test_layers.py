"""The layers import downwards only (../shared/DESIGN.md): a lower package never imports a higher one."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mmret"
SURFACES = {"api", "cli", "serve", "demo", "distributed", "watch"}
LOWER_THAN_QUERY = {"query", "pipeline", "people"} | SURFACES
FORBIDDEN = {  # package or root module -> the mmret packages and modules it must not import
    "data": {"encoders", "index", "training", "eval", "fusion", "losses", "media", "models"} | LOWER_THAN_QUERY,
    "index": {"data", "encoders", "training", "eval", "fusion", "losses", "media", "models"} | LOWER_THAN_QUERY,
    "losses": {"data", "encoders", "index", "training", "eval", "media", "models"} | LOWER_THAN_QUERY,
    "encoders": {"index", "training", "eval", "losses", "media", "models"} | LOWER_THAN_QUERY,
    "fusion": {"data", "encoders", "index", "training", "eval", "losses", "media", "models"} | LOWER_THAN_QUERY,
    "media": {"index", "training", "eval", "losses", "models"} | LOWER_THAN_QUERY,
    "eval": {"training", "index", "models"} | LOWER_THAN_QUERY,
    "training": {"index", "models"} | LOWER_THAN_QUERY,
    "models": LOWER_THAN_QUERY,
    "pipeline": {"training", "eval", "query"} | SURFACES,
    "query": {"training", "eval", "pipeline"} | SURFACES,
    "people": {"training", "eval", "pipeline", "query"} | SURFACES,
    "distributed": SURFACES - {"distributed"},
    "api": {"cli", "serve", "demo", "watch"},
    "serve": {"cli", "demo"},
    "demo": {"cli", "serve"},
    "watch": {"cli", "serve", "demo"},
    "cli": set(),
}
FORBIDDEN["errors"] = set(FORBIDDEN)  # the bottom layer: every other one raises its types


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


def files_of(name: str) -> list[Path]:
    """A package's modules, or a root module's one file."""
    module = PACKAGE / f"{name}.py"
    return [module] if module.is_file() else sorted((PACKAGE / name).rglob("*.py"))


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_package_imports_no_higher_layer(name):
    offenders = {str(file.relative_to(PACKAGE)): sorted(mmret_imports(file) & FORBIDDEN[name])
                 for file in files_of(name)}
    assert {file: bad for file, bad in offenders.items() if bad} == {}


def test_every_module_has_a_place_in_the_layers():
    """The package root holds only the public surface and packages; each of them is in the table above."""
    roots = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert roots <= {"api", "models"}
    assert roots | packages == set(FORBIDDEN)


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
