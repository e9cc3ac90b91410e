"""The shape the code keeps: development tooling apart from the product, settings read in one place, Redis
names built in one place, views that never touch the ORM. Each check reads the source, so it fails the
moment someone breaks the rule."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from thor_project.tests.test_settings import production_env

ROOT = Path(__file__).resolve().parents[2]
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
    for views in (ROOT / "LiveData" / "schwab").glob("*views.py"):
        source = views.read_text()
        assert ".objects" not in source and "cursor(" not in source, views.name
        models = [
            name for name in _imports(views) if name.startswith("LiveData") and name.endswith(".models")
        ]
        assert models == [], views.name
