"""A wallet design edited in the admin: uploads resized to every size Apple and Google ask for and
kept in the database, bad uploads refused on the form, the public logo URL, the drawn stand-in."""

import io
import os
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from tests.factories import CompanyFactory
from wallet.images import SIZES, design_files, design_image_url
from wallet.models import WalletDesign, WalletImage

pytestmark = pytest.mark.django_db

ADD = "/admin/wallet/walletdesign/add/"


@pytest.fixture
def admin_client(client: Client) -> Client:
    user = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def png(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def form(company_id: str, **files: Any) -> dict[str, Any]:
    return {
        "company": company_id,
        "program_name": "Clube Sabor",
        "description": "",
        "background_color": "#102030",
        "foreground_color": "#ffffff",
        "label_color": "#a0b0c0",
        "back_text": "",
        **files,
    }


def test_the_admin_pages_render(admin_client):
    assert admin_client.get("/admin/wallet/walletdesign/").status_code == 200
    assert admin_client.get(ADD).status_code == 200


def test_uploads_are_stored_at_every_size_apple_and_google_ask_for(admin_client):
    company = CompanyFactory.create()
    response = admin_client.post(
        ADD,
        form(
            company.pk,
            icon_upload=SimpleUploadedFile("icon.png", png(512, 400), "image/png"),
            logo_upload=SimpleUploadedFile("logo.png", png(800, 200), "image/png"),
            strip_upload=SimpleUploadedFile("strip.jpg", png(1500, 600), "image/jpeg"),
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    design = WalletDesign.objects.get(company=company)
    assert design.background_color == "#102030" and design.foreground_color == "#FFFFFF"
    stored = {image.name: image for image in WalletImage.objects.filter(design=design)}
    for upload, sizes in SIZES.items():
        for size in sizes:
            image = stored[size.name]
            decoded = Image.open(io.BytesIO(bytes(image.data)))
            assert decoded.format == "PNG"
            assert decoded.size == (image.width, image.height)
            if size.fit == "contain":  # the logo keeps its 4:1 shape inside the box
                assert image.width <= size.width and image.height <= size.height
                assert size.width in (image.width,) or size.height in (image.height,)
            else:
                assert (image.width, image.height) == (size.width, size.height), (upload, size.name)
    assert stored["icon@3x.png"].width == 87 and stored["strip@2x.png"].height == 246
    # Served publicly for Google, by the design's token.
    logo = Client().get(f"/wallet/images/{design.image_token}/google-logo.png")
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(logo.content)).size == (660, 660)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"%PDF-1.4 not an image at all", "not an image"),
        (png(5000, 10), "at most 4096 pixels a side"),
        (os.urandom(800 * 1024), "larger than"),
    ],
    ids=["not-an-image", "too-many-pixels", "too-large"],
)
def test_a_bad_upload_is_a_form_error_and_nothing_is_saved(admin_client, upload, message):
    company = CompanyFactory.create()
    response = admin_client.post(
        ADD, form(company.pk, logo_upload=SimpleUploadedFile("logo.png", upload, "image/png"))
    )
    assert response.status_code == 200  # the form again, with the error
    assert message in response.content.decode()
    assert not WalletDesign.objects.filter(company=company).exists()
    assert not WalletImage.objects.exists()


def test_removing_an_upload_brings_back_the_drawn_icon(admin_client):
    company = CompanyFactory.create()
    admin_client.post(
        ADD, form(company.pk, icon_upload=SimpleUploadedFile("i.png", png(100, 100), "image/png"))
    )
    design = WalletDesign.objects.get(company=company)
    uploaded = design_files(design, title="Clube")["icon.png"]
    change = f"/admin/wallet/walletdesign/{design.pk}/change/"
    assert admin_client.post(change, form(company.pk, icon_remove="on")).status_code == 302
    assert not WalletImage.objects.filter(design=design).exists()
    drawn = design_files(design, title="Clube")
    assert drawn["icon.png"] != uploaded
    assert Image.open(io.BytesIO(drawn["icon@2x.png"])).size == (58, 58)
    assert Image.open(io.BytesIO(drawn["google-logo.png"])).size == (660, 660)


def test_a_design_without_uploads_has_a_drawn_icon_and_google_logo():
    company = CompanyFactory.create(name="Pizzaria Bella")
    url = design_image_url(company_id=company.pk, base_url="https://wallet.example.test/")
    token = WalletDesign.objects.get(company=company).image_token
    assert url == f"https://wallet.example.test/wallet/images/{token}/google-logo.png"
    response = Client().get(f"/wallet/images/{token}/google-logo.png")
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == (660, 660)


def test_an_unknown_image_token_or_name_is_404():
    design = WalletDesign.objects.create(company=CompanyFactory.create())
    client = Client()
    assert client.get("/wallet/images/" + "A" * 43 + "/google-logo.png").status_code == 404
    assert client.get(f"/wallet/images/{design.image_token}/manifest.png").status_code == 404
    assert client.get(f"/wallet/images/{design.image_token}/../x.png").status_code == 404
