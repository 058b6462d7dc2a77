from django.db import migrations


class Migration(migrations.Migration):
    """Every existing contact's phone and email become its primary ContactPhone/ContactEmail."""

    dependencies = [("contacts", "0003_crm")]

    operations = [
        migrations.RunSQL(
            sql="""
                INSERT INTO contacts_contactphone
                    (tenant_id, contact_id, number, kind, is_primary, created_at)
                SELECT tenant_id, id, phone, 'mobile', true, created_at
                FROM contacts_contact WHERE phone <> ''
                ON CONFLICT DO NOTHING;
                INSERT INTO contacts_contactemail
                    (tenant_id, contact_id, email, is_primary, created_at)
                SELECT DISTINCT ON (tenant_id, lower(email)) tenant_id, id, lower(email), true,
                    created_at
                FROM contacts_contact WHERE email <> ''
                ORDER BY tenant_id, lower(email), id
                ON CONFLICT DO NOTHING;
            """,
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
