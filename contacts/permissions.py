from omnichannel.permissions import ADMINS, AGENTS, EVERYONE, SUPERVISORS, Permission

PERMISSIONS = [
    Permission("contacts.view", "See contacts", EVERYONE),
    Permission("contacts.edit", "Create and edit contacts", AGENTS),
    Permission("contacts.delete", "Delete contacts", SUPERVISORS),
    Permission("contacts.import", "Import contacts from CSV", SUPERVISORS),
    Permission("contacts.export", "Export contacts", ADMINS),
    Permission("contacts.merge", "Merge duplicate contacts", SUPERVISORS),
    Permission("contacts.bulk", "Bulk operations on contacts", SUPERVISORS),
    Permission("contacts.erase", "Erase personal data (GDPR)", ADMINS),
    Permission("contacts.manage_attributes", "Define custom attributes", ADMINS),
    Permission("contacts.manage_consent", "Change opt-outs and the blocklist", SUPERVISORS),
]
