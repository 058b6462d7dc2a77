"""Pages answer htmx with a piece and browsers with the whole page, at the same URL: every
answer says it varies on HX-Request, so a cache never serves one for the other."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_page_and_its_piece_vary_on_hx_request(owner, login):
    client = login(owner)
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get("/inbox/", headers=headers)
        assert response.status_code == 200
        assert "HX-Request" in response["Vary"]
