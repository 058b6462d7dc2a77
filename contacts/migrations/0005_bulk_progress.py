from django.db import migrations, models


class Migration(migrations.Migration):
    """Bulk operations count and explain the contacts they could not change, and record when
    their last batch committed so that stuck ones are found and resumed."""

    dependencies = [("contacts", "0004_backfill_phones_emails")]

    operations = [
        migrations.AddField(
            model_name="bulkoperation",
            name="errors",
            field=models.JSONField(
                blank=True, default=list, help_text="[{contact_id, reason}] of the first failures."
            ),
        ),
        migrations.AddField(
            model_name="bulkoperation",
            name="failed",
            field=models.PositiveIntegerField(
                default=0, help_text="Contacts the action could not be applied to (see errors)."
            ),
        ),
        migrations.AddField(
            model_name="bulkoperation",
            name="progressed_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the last batch committed (finds stuck operations).",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="bulkoperation",
            name="contact_ids",
            field=models.JSONField(
                blank=True,
                help_text="The selection, sorted ids frozen at start (a filter's matches at that "
                "moment).",
                null=True,
            ),
        ),
        migrations.AddIndex(
            model_name="bulkoperation",
            index=models.Index(
                condition=models.Q(("status__in", ["pending", "running"])),
                fields=["status"],
                name="bulkop_unfinished_idx",
            ),
        ),
    ]
