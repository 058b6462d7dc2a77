from omnichannel.permissions import EVERYONE, SUPERVISORS, Permission

PERMISSIONS = [
    Permission("campaigns.view", "See campaigns", EVERYONE),
    Permission("campaigns.edit", "Create and edit campaigns", SUPERVISORS),
    Permission("campaigns.launch", "Launch, pause and cancel campaigns", SUPERVISORS),
    Permission("templates.view", "See message templates", EVERYONE),
    Permission("templates.manage", "Manage message templates", SUPERVISORS),
]
