from omnichannel.permissions import ADMINS, AGENTS, Permission

PERMISSIONS = [
    Permission("notifications.view", "See notification rules, templates and logs", AGENTS),
    Permission(
        "notifications.manage",
        "Edit notification rules and templates; cancel scheduled reminders",
        ADMINS,
    ),
    Permission("notifications.send_events", "Post lifecycle events (API)", ADMINS),
]
