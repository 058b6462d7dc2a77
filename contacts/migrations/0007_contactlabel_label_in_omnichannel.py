# Label moved to the core (omnichannel 0007): the foreign key follows in Django's
# state only; the column and its constraint already point at the same table.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0006_consent_unsubscribe_link"),
        ("omnichannel", "0007_label_moved_from_inbox"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="contactlabel",
                    name="label",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="omnichannel.label",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
