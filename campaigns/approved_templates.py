"""The tenant's approved WhatsApp templates as the inbox composer offers them (registered as an
``inbox.template_sources`` source in ``CampaignsConfig.ready()``): filled for the
conversation's contact as campaigns fill them (:mod:`contacts.templating`)."""

from campaigns.models import MessageTemplate
from contacts.attributes import definitions_for
from contacts.models import Contact
from contacts.templating import TemplateError, contact_values, render
from inbox.template_sources import ApprovedTemplate, TemplateSource
from omnichannel.models import Tenant

SOURCE = "campaigns"


def filled_variables(template: MessageTemplate, values: dict[str, str]) -> dict[str, str]:
    """The template's numbered variables (``{"1": "firstName"}``) as the contact's values."""
    return {number: values.get(name, "") for number, name in sorted(template.variables.items())}


def _text(template: MessageTemplate, values: dict[str, str], variables: dict[str, str]) -> str:
    """What the contact reads: the body as approved, filled; a template saved with only its
    Content SID is named, with its variables."""
    if template.body.strip():
        try:
            return render(template.body, values)
        except TemplateError:  # saved before bodies were checked: shown as stored
            return template.body
    filled = "; ".join(f"{{{{{number}}}}} = {value}" for number, value in variables.items())
    return f"“{template.name}” (approved template{'; ' + filled if filled else ''})"


def approved_for_contact(tenant: Tenant, channel: str, contact: Contact) -> list[ApprovedTemplate]:
    """The tenant's templates for ``channel`` that carry an approved Content SID."""
    templates = list(
        MessageTemplate.objects.for_tenant(tenant).filter(channel=channel).exclude(content_sid="")
    )
    if not templates:
        return []
    values = contact_values(contact, list(definitions_for(tenant)))
    found = []
    for template in templates:
        variables = filled_variables(template, values)
        found.append(
            ApprovedTemplate(
                key=f"{SOURCE}:{template.pk}",
                name=template.name,
                content_sid=template.content_sid,
                variables=variables,
                text=_text(template, values, variables),
            )
        )
    return found


TEMPLATES = TemplateSource(
    name=SOURCE,
    templates=approved_for_contact,
    manage_url_name="campaign-templates:create",
    manage_permission="templates.manage",
    where="Campaigns → Message templates",
)
