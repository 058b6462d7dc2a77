"""Nothing outside a provider's package compares provider names: what a provider can do is
asked of the registry (``inbox.providers``), so adding a provider never means hunting for
``if provider == ...`` chains. The check reads the source of every project module outside
``inbox/providers/`` (migrations and tests aside) and fails on a comparison, a membership test
or a query lookup against a registered provider key, or against ``<something>.provider``."""

import ast
from pathlib import Path

import pytest

from inbox.providers import PROVIDERS

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGES = (
    "omnichannel",
    "contacts",
    "inbox",
    "campaigns",
    "notifications",
    "telephony",
    "billing",
    "calendar_app",
    "ai_agent",
)
EXEMPT = (BASE_DIR / "inbox" / "providers",)
LOOKUPS = {"filter", "exclude", "get", "get_or_create", "update_or_create"}


def _is_provider_name(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and node.value in PROVIDERS:
        return True
    if isinstance(node, ast.Attribute) and node.attr == "provider":
        return True
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value == "provider"
    return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(
        isinstance(item, ast.Constant) and item.value in PROVIDERS for item in node.elts
    )


def comparisons(source: str) -> list[int]:
    """Line numbers where ``source`` compares a provider name."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_is_provider_name(operand) for operand in operands):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in LOOKUPS:
            for keyword in node.keywords:
                if (keyword.arg or "").split("__")[0] == "provider" and isinstance(
                    keyword.value, (ast.Constant, ast.Tuple, ast.List)
                ):
                    lines.append(node.lineno)
        elif isinstance(node, ast.match_case) and _is_provider_name(
            getattr(node.pattern, "value", None) or ast.Constant(None)
        ):
            lines.append(node.pattern.lineno)
    return lines


def project_modules() -> list[Path]:
    found = []
    for package in PACKAGES:
        for path in sorted((BASE_DIR / package).rglob("*.py")):
            if "migrations" in path.parts or any(path.is_relative_to(p) for p in EXEMPT):
                continue
            found.append(path)
    return found


def test_no_module_outside_the_providers_compares_provider_names():
    offending = [
        f"{path.relative_to(BASE_DIR)}:{line}"
        for path in project_modules()
        for line in comparisons(path.read_text())
    ]
    assert not offending, (
        "These lines compare provider names; ask the provider registry instead "
        f"(inbox.providers: provider_class(key).kinds / .credentials / supports()): {offending}"
    )


@pytest.mark.parametrize(
    "source",
    [
        'if inbox.provider == "twilio": pass',
        'ok = "anymail" != provider',
        'ok = kind in ("twilio", "sms")',
        'Inbox.objects.filter(provider="twilio")',
        'Inbox.objects.exclude(provider__in=["anymail"])',
        "ok = row['provider'] == key",
        'match p:\n    case "twilio": pass',
    ],
)
def test_the_check_finds_every_way_of_comparing(source):
    assert comparisons(source) == [1] or comparisons(source) == [2]


@pytest.mark.parametrize(
    "source",
    [
        "get_provider(inbox).send(message)",
        "Inbox.objects.filter(provider=provider_key, webhook_token=token)",
        'label = "twilio inbox"',
        'Inbox.objects.create(provider="twilio")',
    ],
)
def test_the_check_leaves_other_code_alone(source):
    assert comparisons(source) == []
