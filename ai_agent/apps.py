from django.apps import AppConfig


class AiAgentConfig(AppConfig):
    name = "ai_agent"
    verbose_name = "AI agent"
