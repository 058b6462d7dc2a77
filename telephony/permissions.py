from omnichannel.permissions import ADMINS, AGENTS, EVERYONE, SUPERVISORS, Permission

PERMISSIONS = [
    Permission("calls.view", "See calls", EVERYONE),
    Permission("calls.make", "Make and answer calls", AGENTS),
    Permission("calls.listen_recordings", "Listen to call recordings", SUPERVISORS),
    Permission("calls.manage_routing", "Configure call routing", ADMINS),
]
