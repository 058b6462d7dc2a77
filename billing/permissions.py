from omnichannel.permissions import ADMINS, OWNER_ONLY, Permission

PERMISSIONS = [
    Permission("billing.view", "See plan and invoices", ADMINS),
    Permission("billing.manage", "Change plan and payment method", OWNER_ONLY),
]
