from django.urls import path

from inbox import compose_views, mention_views, views

app_name = "inbox"

urlpatterns = [
    path("", views.inbox, name="index"),
    path("new/", compose_views.new_conversation, name="new-conversation"),
    path("c/<int:conversation_id>/", views.conversation, name="conversation"),
    path("c/<int:conversation_id>/messages/", views.send, name="message-send"),
    path(
        "c/<int:conversation_id>/messages/<int:message_id>/retry/",
        views.retry,
        name="message-retry",
    ),
    path(
        "c/<int:conversation_id>/messages/<int:message_id>/images/",
        views.allow_images,
        name="message-images",
    ),
    path(
        "c/<int:conversation_id>/messages/<int:message_id>/email.css",
        views.email_css,
        name="message-css",
    ),
    path("c/<int:conversation_id>/sms-counter/", views.sms_counter, name="sms-counter"),
    path("c/<int:conversation_id>/assignee/", views.assign, name="conversation-assign"),
    path("c/<int:conversation_id>/status/", views.set_status, name="conversation-status"),
    path("c/<int:conversation_id>/snooze/", views.snooze, name="conversation-snooze"),
    path("c/<int:conversation_id>/priority/", views.set_priority, name="conversation-priority"),
    path("c/<int:conversation_id>/pin/", views.pin, name="conversation-pin"),
    path("c/<int:conversation_id>/delete/", views.delete_conversation, name="conversation-delete"),
    path("c/<int:conversation_id>/unread/", views.mark_unread, name="conversation-unread"),
    path("c/<int:conversation_id>/labels/", views.label_add, name="conversation-label-add"),
    path(
        "c/<int:conversation_id>/labels/<int:label_id>/remove/",
        views.label_remove,
        name="conversation-label-remove",
    ),
    path(
        "c/<int:conversation_id>/macros/<int:macro_id>/run/",
        views.run_macro,
        name="conversation-macro-run",
    ),
    path("canned/", views.canned_suggestions, name="canned-suggestions"),
    path("mentions/", mention_views.mention_suggestions, name="mention-suggestions"),
    path("availability/", views.set_availability, name="availability"),
    path("attachments/<int:attachment_id>/", views.attachment, name="attachment"),
]
