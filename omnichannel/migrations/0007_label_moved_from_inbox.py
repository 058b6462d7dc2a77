# Label moves from inbox to the core: only Django's state changes; the table stays "inbox_label"
# with its constraints, so no SQL runs.

import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("omnichannel", "0006_audit_action_without_db_choices"),
        ("inbox", "0007_conversation_subject_vector"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Label",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=50)),
                        (
                            "color",
                            models.CharField(
                                choices=[
                                    ("grey", "Grey"),
                                    ("red", "Red"),
                                    ("orange", "Orange"),
                                    ("yellow", "Yellow"),
                                    ("green", "Green"),
                                    ("teal", "Teal"),
                                    ("blue", "Blue"),
                                    ("purple", "Purple"),
                                    ("pink", "Pink"),
                                ],
                                default="blue",
                                max_length=10,
                            ),
                        ),
                        ("description", models.CharField(blank=True, max_length=200)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="omnichannel.tenant",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "inbox_label",
                        "ordering": ["name", "id"],
                        "constraints": [
                            models.UniqueConstraint(
                                models.F("tenant"),
                                django.db.models.functions.text.Lower("name"),
                                name="label_unique_name_per_tenant",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    (
                                        "color__in",
                                        [
                                            "grey",
                                            "red",
                                            "orange",
                                            "yellow",
                                            "green",
                                            "teal",
                                            "blue",
                                            "purple",
                                            "pink",
                                        ],
                                    )
                                ),
                                name="label_color_in_palette",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("name", ""), _negated=True),
                                name="label_name_not_blank",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
