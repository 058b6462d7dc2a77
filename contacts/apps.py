from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        from contacts import hooks
        from contacts.demo import seed_demo_contacts
        from contacts.shared_attributes import contact_attributes
        from omnichannel import demo

        hooks.register_shared_attributes(contact_attributes)

        # The demo's contacts, before the inbox's conversations (50) find them.
        demo.register_step(40, seed_demo_contacts)
