"""The webhook journal moves to the core (omnichannel.WebhookEvent, same table): state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0010_fallback_inbox_and_thread_handle"),
        ("omnichannel", "0008_webhook_journal_moved_from_inbox"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="webhookevent", name="webhook_tenant_idx"),
                migrations.RemoveIndex(model_name="webhookevent", name="webhook_state_idx"),
                migrations.RemoveIndex(model_name="webhookevent", name="webhook_inbox_ext_idx"),
                migrations.DeleteModel(name="WebhookEvent"),
            ],
            database_operations=[],
        ),
    ]
