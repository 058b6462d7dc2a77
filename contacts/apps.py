from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        from contacts.demo import seed_demo_contacts
        from omnichannel import demo

        # The demo's contacts, before the inbox's conversations (50) find them.
        demo.register_step(40, seed_demo_contacts)
