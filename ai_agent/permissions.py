from omnichannel.permissions import ADMINS, SUPERVISORS, Permission

PERMISSIONS = [
    Permission("ai_agent.view", "See the AI agent's configuration", SUPERVISORS),
    Permission("ai_agent.manage", "Configure the AI agent", ADMINS),
]
