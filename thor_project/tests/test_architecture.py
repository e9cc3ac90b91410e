"""The shape the code keeps: development tooling apart from the product, settings read in one place, Redis
names built in one place, views that never touch the ORM, the Schwab app's packages imported one way only
and without cycles. Each check reads the source, so it fails the moment someone breaks the rule."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from thor_project.tests.test_settings import production_env

ROOT = Path(__file__).resolve().parents[2]
SCHWAB = ROOT / "LiveData" / "schwab"
PRODUCT = ["LiveData", "ActAndPos", "FutureTrading", "thor_project"]


def _product_modules() -> list[Path]:
    return [
        path
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if "tests" not in path.parts and "migrations" not in path.parts
    ]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    return names


def test_no_product_module_imports_the_development_tooling():
    offenders = [
        str(path.relative_to(ROOT))
        for path in _product_modules()
        if any(name == "devtools" or name.startswith("devtools.") for name in _imports(path))
    ]
    assert offenders == []


def test_the_development_tooling_is_not_installed_with_debug_off():
    script = "from django.conf import settings as s; print('devtools' in s.INSTALLED_APPS)"
    answers = {}
    for debug in ("true", "false"):
        env = {**production_env(), "DEBUG": debug, "DJANGO_SETTINGS_MODULE": "thor_project.settings"}
        env["PATH"] = "/usr/bin:/bin"
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, "-c", f"import django; django.setup(); {script}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        answers[debug] = result.stdout.strip().splitlines()[-1]
    assert answers == {"true": "True", "false": "False"}


def test_the_schwab_app_reads_settings_only_through_conf():
    app = ROOT / "LiveData" / "schwab"
    offenders = [
        str(path.relative_to(ROOT))
        for path in app.rglob("*.py")
        if path.name != "conf.py" and "tests" not in path.parts and "migrations" not in path.parts
        if re.search(r"\bsettings\.[A-Z]", path.read_text())
    ]
    assert offenders == []


def test_redis_key_names_are_built_only_in_the_contract():
    key_literal = re.compile(r"""["'](?:live_data|schwab):[a-z_]+:""")
    offenders = [
        str(path.relative_to(ROOT))
        for path in _product_modules()
        if path.name != "contract.py" and key_literal.search(path.read_text())
    ]
    assert offenders == []


def test_views_never_touch_the_orm_or_the_database():
    found = sorted(path for path in SCHWAB.rglob("*views.py") if "tests" not in path.parts)
    assert found, "no views module found"
    for views in found:
        source = views.read_text()
        assert ".objects" not in source and "cursor(" not in source, views.name
        models = [
            name for name in _imports(views) if name.startswith("LiveData") and name.endswith(".models")
        ]
        assert models == [], views.name


# --- The Schwab app's packages ------------------------------------------------------------------------------

# Lowest first. A module imports from its own layer and the layers below, never above: web -> api ->
# the flows (streaming -> live_data -> orders -> connection) -> the foundation -> LiveData.shared.
LAYERS = [
    {"conf", "exceptions", "crypto", "fields", "models", "migrations"},
    {"connection"},
    {"orders"},
    {"live_data"},
    {"streaming"},
    {"api"},
    {"web"},
    {"apps", "admin", "tasks", "management"},  # Django's and Celery's entry points
]
# Modules over ~400 lines, and why their size is earned.
EARNED = {
    "orders/order_service.py": "the idempotency state machine: every recovery point of an order request "
    "and how each is settled, read in one place",
    "streaming/stream_worker.py": "one connection's streaming sessions and the worker's lease loop: what "
    "happens to a message from the socket to the recorded event, in one place",
    "streaming/order_stream.py": "the live channel: the per-process hub and one stream's loop, which share "
    "their cursors and batching",
    "web/openapi.py": "the paths, parameters, examples and error codes of every operation",
}


def _schwab_modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
        for path in SCHWAB.rglob("*.py")
        if "tests" not in path.parts
    }


def _layer(module: str) -> int:
    part = module.removeprefix("LiveData.schwab.").split(".")[0]
    return next(index for index, names in enumerate(LAYERS) if part in names)


def _schwab_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The app's modules that `path` imports, at any depth of its code (a `from package import module`
    names the module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in modules and name != "LiveData.schwab"}


def test_the_schwab_app_imports_only_downward_through_its_packages():
    modules = _schwab_modules()
    upward = [
        f"{module} imports {imported}"
        for module, path in modules.items()
        if module != "LiveData.schwab"
        for imported in sorted(_schwab_imports(path, modules))
        if _layer(imported) > _layer(module)
    ]
    assert upward == []


def test_the_schwab_app_has_no_import_cycles():
    modules = _schwab_modules()
    graph = {module: _schwab_imports(path, modules) for module, path in modules.items()}
    cycles = []
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycles.append(" -> ".join([*trail[trail.index(imported) :], imported]))
            elif imported not in state:
                visit(imported, [*trail, imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_every_schwab_module_is_short_unless_its_size_is_earned():
    long = {
        str(path.relative_to(SCHWAB))
        for path in _schwab_modules().values()
        if "migrations" not in path.parts and len(path.read_text().splitlines()) > 400
    }
    assert long <= set(EARNED), sorted(long - set(EARNED))


def test_the_product_reaches_into_no_private_attributes():
    """Only public APIs of Django, asgiref and each other: `x._name` is allowed on self and cls, and for the
    documented public names that start with one underscore (Django's Model._meta, namedtuple's methods)."""
    documented = {"_meta", "_replace", "_asdict", "_fields", "_make"}
    reaching = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\.(_[a-z]\w*)")
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in _product_modules()
        for match in reaching.finditer(path.read_text())
        if match.group(1) not in ("self", "cls") and match.group(2) not in documented
    ]
    assert offenders == []
