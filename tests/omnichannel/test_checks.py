import pytest
from django.core.checks import run_checks
from django.test import override_settings

# Model checks ask the server its version (GeneratedField support): alone, nothing has asked yet.
pytestmark = pytest.mark.django_db


def ids(errors) -> set[str]:
    return {error.id for error in errors if error.id.startswith("centro.")}


def test_it_passes_with_valid_keys():
    assert ids(run_checks()) == set()


@override_settings(CENTRO_ENCRYPTION_KEYS=[])
def test_it_refuses_to_start_without_an_encryption_key():
    assert ids(run_checks()) == {"centro.E001"}


@override_settings(CENTRO_ENCRYPTION_KEYS=["not-a-key"])
def test_it_names_a_malformed_encryption_key():
    errors = run_checks()
    assert ids(errors) == {"centro.E002"}
    assert "Key 1 of CENTRO_ENCRYPTION_KEYS" in errors[-1].msg
