# Label moves to the core (omnichannel 0007): the conversation's labels follow and the inbox
# forgets the model, in Django's state only; the "inbox_label" table stays as it is.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0007_conversation_subject_vector"),
        ("omnichannel", "0007_label_moved_from_inbox"),
        ("contacts", "0007_contactlabel_label_in_omnichannel"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="conversationlabel",
                    name="label",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="conversation_labels",
                        to="omnichannel.label",
                    ),
                ),
                migrations.AlterField(
                    model_name="conversation",
                    name="labels",
                    field=models.ManyToManyField(
                        blank=True,
                        related_name="conversations",
                        through="inbox.ConversationLabel",
                        to="omnichannel.label",
                    ),
                ),
                migrations.DeleteModel(name="Label"),
            ],
            database_operations=[],
        ),
    ]
