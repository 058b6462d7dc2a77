from omnichannel.permissions import ADMINS, AGENTS, EVERYONE, SUPERVISORS, Permission

PERMISSIONS = [
    Permission("conversations.view", "See conversations", EVERYONE),
    Permission("conversations.reply", "Reply to conversations", AGENTS),
    Permission("conversations.note", "Write private notes", AGENTS),
    Permission("conversations.assign", "Assign conversations", AGENTS),
    Permission("conversations.assign_others", "Assign conversations to other agents", SUPERVISORS),
    Permission("conversations.manage", "Close, reopen, snooze and label conversations", AGENTS),
    Permission("conversations.delete", "Delete conversations", ADMINS),
    Permission("inboxes.view", "See connected channels", SUPERVISORS),
    Permission("inboxes.manage", "Connect and configure channels", ADMINS),
    Permission("canned_responses.manage", "Manage canned responses", SUPERVISORS),
    Permission("macros.manage", "Manage macros", SUPERVISORS),
    Permission("teams.manage", "Manage teams and how inboxes assign conversations", ADMINS),
]
