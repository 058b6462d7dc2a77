from django.db import models
from django.utils.timezone import now

from omnichannel.tenancy import TenantOwned


class MessageTemplate(TenantOwned):
    """A reusable message for campaigns: a body with ``{{variables}}`` (see
    :mod:`campaigns.templating`) and, for WhatsApp, the approved template it stands for."""

    name = models.CharField(max_length=120)
    channel = models.CharField(max_length=20, help_text="The channel it is written for.")
    body = models.TextField(blank=True)
    content_sid = models.CharField(
        max_length=34, blank=True, help_text="WhatsApp: the approved template's Content SID."
    )
    variables = models.JSONField(
        default=dict,
        blank=True,
        help_text='WhatsApp: numbered variables to names, e.g. {"1": "firstName"}.',
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="messagetemplate_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name
