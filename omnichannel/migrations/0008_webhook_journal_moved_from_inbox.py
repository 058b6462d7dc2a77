"""The webhook journal moves to the core (its table keeps its name); it may now belong to no
tenant (platform webhooks)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0010_fallback_inbox_and_thread_handle"),
        ("omnichannel", "0007_label_moved_from_inbox"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="WebhookEvent",
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
                        ("provider", models.CharField(max_length=20)),
                        ("kind", models.CharField(max_length=60)),
                        ("url", models.CharField(max_length=1000)),
                        ("headers", models.JSONField(blank=True, default=dict)),
                        ("content_type", models.CharField(blank=True, max_length=300)),
                        ("body", models.TextField(blank=True)),
                        ("body_encoding", models.CharField(blank=True, max_length=10)),
                        ("external_id", models.CharField(blank=True, max_length=100)),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("processed", "Processed"),
                                    ("failed", "Failed"),
                                    ("invalid", "Malformed"),
                                ],
                                default="pending",
                                max_length=10,
                            ),
                        ),
                        ("error", models.TextField(blank=True)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("processed_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "inbox",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="webhook_events",
                                to="inbox.inbox",
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="omnichannel.tenant",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "inbox_webhookevent",
                        "indexes": [
                            models.Index(
                                fields=["tenant", "-received_at"], name="webhook_tenant_idx"
                            ),
                            models.Index(fields=["state", "received_at"], name="webhook_state_idx"),
                            models.Index(
                                fields=["inbox", "external_id"], name="webhook_inbox_ext_idx"
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE inbox_webhookevent ALTER COLUMN tenant_id DROP NOT NULL",
                    "ALTER TABLE inbox_webhookevent ALTER COLUMN tenant_id SET NOT NULL",
                ),
            ],
        ),
    ]
