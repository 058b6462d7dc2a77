from omnichannel.permissions import ADMINS, AGENTS, EVERYONE, Permission

PERMISSIONS = [
    Permission("calendar.view", "See the calendar", EVERYONE),
    Permission("calendar.book", "Book and change appointments", AGENTS),
    Permission("calendar.manage", "Manage availability and resources", ADMINS),
]
