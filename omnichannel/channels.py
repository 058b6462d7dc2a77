"""The channels a conversation can run on; every app names them with these values."""

from django.db import models


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    EMAIL = "email", "Email"
    IMESSAGE = "imessage", "iMessage"
    CHATWOOT = "chatwoot", "Chatwoot"
    VOICE = "voice", "Phone calls"
