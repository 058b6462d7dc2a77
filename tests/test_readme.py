"""The README lists every environment variable the code reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READS = re.compile(
    r"""(?:env_(?:str|bool|int|list)\(\s*|environ(?:\.get|\.setdefault)?\(\s*|environ\[)"([A-Z][A-Z0-9_]+)\""""
)
# Read only to pass on to other programs, or set by the tests themselves.
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE", "XDG_RUNTIME_DIR", "PYTHONUNBUFFERED"}


def test_it_documents_every_environment_variable_the_code_reads():
    sources = [*ROOT.glob("*/**/*.py"), ROOT / "bin" / "find-python"]
    names = set()
    for path in sources:
        if ".venv" in path.parts or "tests" in path.parts or ".tools" in path.parts:
            continue
        names |= set(READS.findall(path.read_text()))
    names |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", (ROOT / "bin" / "find-python").read_text()))
    names -= NOT_SETTINGS | {"PYENV_ROOT", "HOME"}
    readme = (ROOT / "README.md").read_text()
    assert len(names) > 20
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert missing == []
