"""Every registered permission guards something: its codename is checked somewhere in the code.

The scan reads the apps' sources (not tests, not migrations) and counts as a check:
- a codename given to a checking call: ``require_permission``, ``permission_required``,
  ``require_api_permission``, ``has_permission``, or a helper that passes its own argument on
  to one of them (found by the scan too);
- ``"codename" in <codenames>`` (templates' and realtime's ``can_*`` flags);
- a codename in a module-level table (``SECTIONS``, ``EXTRA_PERMISSION``…) of a module that
  checks a permission it reads from a variable.

Apps whose code is only their declarations (``apps.py`` + ``permissions.py``: telephony,
billing…, not built yet) reserve their codenames; once such an app has any other module, its
codenames must be checked like the rest.
"""

import ast
import functools
from pathlib import Path

from django.apps import apps
from django.conf import settings

from omnichannel import permissions

PROJECT = Path(settings.BASE_DIR).resolve()
CHECKS = {"require_permission", "permission_required", "require_api_permission", "has_permission"}
DECLARATION_MODULES = {"__init__.py", "apps.py", "permissions.py"}


def _project_apps() -> list:
    return [
        config
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(PROJECT)
        and ".venv" not in Path(config.path).resolve().parts
    ]


def _sources(config) -> list[Path]:
    return [
        path
        for path in Path(config.path).rglob("*.py")
        if "migrations" not in path.parts and "tests" not in path.parts
    ]


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _strings(node: ast.AST) -> set[str]:
    return {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


@functools.cache
def checked_codenames() -> set[str]:
    trees = [
        ast.parse(path.read_text(), str(path)) for c in _project_apps() for path in _sources(c)
    ]
    # Each function, with the names it calls handing on one of its own parameters: read once,
    # then the helpers that hand their argument to a check are checks too (to a fixed point).
    hand_ons: list[tuple[str, set[str]]] = []
    for tree in trees:
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            params = {a.arg for a in function.args.args + function.args.kwonlyargs}
            called = {
                _called_name(call)
                for call in ast.walk(function)
                if isinstance(call, ast.Call)
                and any(isinstance(a, ast.Name) and a.id in params for a in call.args)
            }
            hand_ons.append((function.name, called))
    checks = set(CHECKS)
    while True:
        found = checks | {name for name, called in hand_ons if called & checks}
        if found == checks:
            break
        checks = found
    codenames: set[str] = set()
    for tree in trees:
        dynamic = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) in checks and node.args:
                given = {
                    a.value
                    for a in node.args
                    if isinstance(a, ast.Constant) and isinstance(a.value, str)
                }
                codenames |= given
                dynamic = dynamic or not given
            elif isinstance(node, ast.Compare) and any(
                isinstance(op, ast.In | ast.NotIn) for op in node.ops
            ):
                if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str):
                    codenames.add(node.left.value)
                else:
                    dynamic = True
        if dynamic:  # the module checks what a table says: its tables' codenames count
            for statement in tree.body:
                if isinstance(statement, ast.Assign | ast.AnnAssign):
                    codenames |= _strings(statement)
    return codenames


def reserved_codenames() -> set[str]:
    """Codenames of apps that have no code yet besides their declarations."""
    reserved = set()
    for config in _project_apps():
        code = {p.name for p in _sources(config) if p.parent == Path(config.path)}
        nested = [p for p in _sources(config) if p.parent != Path(config.path)]
        if code <= DECLARATION_MODULES and not nested:
            module = __import__(f"{config.name}.permissions", fromlist=["PERMISSIONS"])
            reserved |= {p.codename for p in getattr(module, "PERMISSIONS", [])}
    return reserved


def test_every_registered_permission_is_checked_somewhere():
    registered = permissions.all_codenames()
    unchecked = sorted(registered - checked_codenames() - reserved_codenames())
    assert not unchecked, (
        f"Declared but never checked: {', '.join(unchecked)}. Guard a view with "
        "@require_permission, an API route with @permission_required, or remove the declaration."
    )


def test_the_scan_sees_the_checks_this_task_added():
    checked = checked_codenames()
    assert {"conversations.delete", "tenant.delete", "credentials.manage"} <= checked


def test_the_scan_does_not_count_a_codename_that_is_only_declared():
    tree_free = {"billing.manage", "ai_agent.manage"}  # declared by apps with no code yet
    assert not tree_free & checked_codenames()
    assert tree_free <= reserved_codenames()
