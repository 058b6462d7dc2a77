from contacts.tasks import bulk, imports  # noqa: F401  (registers the tasks)
