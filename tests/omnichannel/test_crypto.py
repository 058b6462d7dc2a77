import json
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models

from omnichannel.crypto import EncryptedTextField, encrypted_fields, mask_secret

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


@contextmanager
def temporary_secret_model() -> Iterator[type[models.Model]]:
    """A model with an encrypted field, its table created in the test's transaction.

    It is registered in the app registry only while in use (so encrypted_fields() and the
    rotation command see it) and never appears in migrations.
    """

    class Meta:
        app_label = "omnichannel"
        db_table = "test_encrypted_secret"

    model = type(
        "EncryptedSecretForTests",
        (models.Model,),
        {
            "__module__": __name__,
            "Meta": Meta,
            "label": models.CharField(max_length=50),
            "secret": EncryptedTextField(blank=True),
            "other_secret": EncryptedTextField(null=True, blank=True),
            "__str__": lambda self: self.label,
        },
    )
    try:
        with connection.schema_editor() as editor:
            editor.create_model(model)
        yield model
    finally:
        # The table (and any content type row) goes away with the test's rollback; the
        # registry entry and the cached content type we remove.
        del apps.all_models["omnichannel"][model._meta.model_name]
        apps.clear_cache()
        ContentType.objects.clear_cache()


@pytest.fixture
def secret_model(db):
    with temporary_secret_model() as model:
        yield model


def raw_column(model, pk: int, column: str = "secret") -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_it_round_trips_an_encrypted_value(secret_model):
    row = secret_model.objects.create(label="twilio", secret="AC-auth-token-1234")
    assert secret_model.objects.get(pk=row.pk).secret == "AC-auth-token-1234"
    stored = raw_column(secret_model, row.pk)
    assert stored != "AC-auth-token-1234"
    assert "auth-token" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token


def test_it_keeps_empty_and_null_values_as_they_are(secret_model):
    row = secret_model.objects.create(label="blank", secret="", other_secret=None)
    assert raw_column(secret_model, row.pk) == ""
    assert raw_column(secret_model, row.pk, "other_secret") is None
    fresh = secret_model.objects.get(pk=row.pk)
    assert (fresh.secret, fresh.other_secret) == ("", None)
    assert secret_model.objects.filter(other_secret__isnull=True).count() == 1


def test_it_encrypts_the_same_value_differently_each_time(secret_model):
    one = secret_model.objects.create(label="a", secret="same")
    two = secret_model.objects.create(label="b", secret="same")
    assert raw_column(secret_model, one.pk) != raw_column(secret_model, two.pk)


def test_it_refuses_lookups_on_ciphertext(secret_model):
    with pytest.raises(ImproperlyConfigured, match="only isnull"):
        secret_model.objects.filter(secret="x").exists()


def test_it_lists_every_encrypted_field(secret_model):
    found = {(model, field.name) for model, field in encrypted_fields()}
    assert {(secret_model, "secret"), (secret_model, "other_secret")} <= found


def test_it_explains_a_missing_key(settings, secret_model):
    row = secret_model.objects.create(label="x", secret="s3cret")
    settings.CENTRO_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="Set CENTRO_ENCRYPTION_KEYS"):
        secret_model.objects.get(pk=row.pk)
    settings.CENTRO_ENCRYPTION_KEYS = ["not-a-key"]
    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        secret_model.objects.get(pk=row.pk)


def test_it_rotates_to_the_first_key_so_the_old_one_can_go(settings, secret_model):
    settings.CENTRO_ENCRYPTION_KEYS = [OLD_KEY]
    rows = [
        secret_model.objects.create(label=f"row {i}", secret=f"token-{i}", other_secret=None)
        for i in range(7)
    ]
    rows.append(secret_model.objects.create(label="blank", secret="", other_secret="pw-extra"))
    before = {row.pk: raw_column(secret_model, row.pk) for row in rows}

    settings.CENTRO_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert secret_model.objects.get(pk=rows[0].pk).secret == "token-0"  # old key still reads
    out = StringIO()
    call_command("rotate_encryption_keys", "--batch-size", "3", stdout=out)
    report = json.loads(out.getvalue())
    mine = {
        entry["field"]: entry["rows"]
        for entry in report["fields"]
        if entry["model"] == secret_model._meta.label
    }
    assert mine == {"secret": 7, "other_secret": 1}
    assert report["rows"] >= 8

    for row in rows:
        stored = raw_column(secret_model, row.pk)
        if row.secret:
            assert stored != before[row.pk]
            assert Fernet(NEW_KEY.encode()).decrypt(stored.encode()).decode() == row.secret
        else:
            assert stored == ""

    settings.CENTRO_ENCRYPTION_KEYS = [NEW_KEY]  # the old key is removed
    values = dict(secret_model.objects.values_list("label", "secret"))
    assert values == {row.label: row.secret for row in rows}
    assert secret_model.objects.get(label="blank").other_secret == "pw-extra"

    settings.CENTRO_ENCRYPTION_KEYS = [OLD_KEY]  # nothing is left under the old key
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        list(secret_model.objects.all())


def test_it_changes_nothing_when_a_value_cannot_be_decrypted(settings, secret_model):
    settings.CENTRO_ENCRYPTION_KEYS = [OLD_KEY]
    readable = secret_model.objects.create(label="readable", secret="fine")
    settings.CENTRO_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    secret_model.objects.create(label="lost", secret="under a key that will be gone")
    before = raw_column(secret_model, readable.pk)

    settings.CENTRO_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    with pytest.raises(CommandError, match=r"EncryptedSecretForTests\.secret.*Nothing was changed"):
        call_command("rotate_encryption_keys", stdout=StringIO())
    assert raw_column(secret_model, readable.pk) == before


def test_it_rotates_nothing_when_there_are_no_values(settings, secret_model):
    settings.CENTRO_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    report = json.loads(out.getvalue())
    assert all(entry["rows"] == 0 for entry in report["fields"])
    assert report["rows"] == 0


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("", ""),
        (None, ""),
        ("short", "••••"),
        ("sk_live_0123456789abcd", "••••abcd"),
    ],
)
def test_it_masks_secrets_to_their_last_four_characters_at_most(value, shown):
    assert mask_secret(value) == shown
