"""Ops see each redemption in the admin, refused ones with their reason; nobody edits them there."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from coupons.services import coupon_redeem
from opendelivery.redemptions import od_redemption_request, od_redemptions_process_due
from tests.factories import CustomerFactory, RewardFactory
from tests.opendelivery.redeem_rows import od_client_of

pytestmark = pytest.mark.django_db


def test_the_admin_lists_redemptions_with_their_refusal_and_offers_no_edit(client: Client) -> None:
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    customer = CustomerFactory.create(points=300)
    reward = RewardFactory.create(company=customer.company, points_required=300)
    accepted = od_redemption_request(
        client=od_client_of(customer.company),
        company=customer.company,
        account_id=customer.pk,
        reward_id=reward.pk,
    )
    coupon_redeem(
        company=customer.company,
        customer_id=customer.pk,
        reward_id=reward.pk,
        use_z_tokens=False,
        api_key=None,
    )
    od_redemptions_process_due()

    listing = client.get("/admin/opendelivery/odredemption/?status=refused")
    assert listing.status_code == 200
    assert str(accepted.pk) in listing.content.decode()
    assert "insufficient_points" in listing.content.decode()
    page = client.get(f"/admin/opendelivery/odredemption/{accepted.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get("/admin/opendelivery/odredemption/add/").status_code == 403
