"""A design's images: the admin's uploads resized with Pillow to every size Apple Wallet and Google
Wallet ask for, kept as ``WalletImage`` rows, and generated stand-ins for what was never uploaded
(Apple requires an icon; Google a logo).

Apple: icon 29x29 @1x/@2x/@3x (notifications, the lock screen), logo at most 160x50 points (the
front's top left), strip 375x123 points behind the primary fields of a store card or coupon.
Google: a square program logo (660x660) and a wide hero image (1032x336)."""

import functools
import io
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.db import transaction
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from companies.models import Company
from wallet.models import WalletDesign, WalletImage

Upload = Literal["icon", "logo", "strip"]
UPLOADS: tuple[Upload, ...] = ("icon", "logo", "strip")
# How a source is brought to a size: cropped to fill it, fitted inside it, or padded to it.
Fit = Literal["cover", "contain", "pad"]


@dataclass(frozen=True)
class Size:
    name: str
    width: int
    height: int
    fit: Fit


SIZES: dict[Upload, tuple[Size, ...]] = {
    "icon": (
        Size("icon.png", 29, 29, "cover"),
        Size("icon@2x.png", 58, 58, "cover"),
        Size("icon@3x.png", 87, 87, "cover"),
    ),
    "logo": (
        Size("logo.png", 160, 50, "contain"),
        Size("logo@2x.png", 320, 100, "contain"),
        Size("logo@3x.png", 480, 150, "contain"),
        Size("google-logo.png", 660, 660, "pad"),
    ),
    "strip": (
        Size("strip.png", 375, 123, "cover"),
        Size("strip@2x.png", 750, 246, "cover"),
        Size("strip@3x.png", 1125, 369, "cover"),
        Size("google-hero.png", 1032, 336, "cover"),
    ),
}
# The files that go into a .pkpass (Google's are served by URL only).
APPLE_FILES = frozenset(s.name for sizes in SIZES.values() for s in sizes if not s.name.startswith("google-"))
# What the public image URL serves.
PUBLIC_FILES = frozenset({"google-logo.png", "google-hero.png", "logo.png", "icon@3x.png"})
FORMATS = frozenset({"PNG", "JPEG", "GIF", "WEBP"})
MAX_SIDE = 4096


class ImageRefused(ValueError):
    """An upload that is not an image this service takes; the message says why, for the admin form."""


def image_check(raw: bytes) -> Image.Image:
    """The upload opened, or ``ImageRefused``: over WALLET_IMAGE_MAX_BYTES, not PNG/JPEG/GIF/WebP,
    larger than 4096 pixels a side (checked from the header, before decoding a pixel), or broken."""
    if len(raw) > settings.WALLET_IMAGE_MAX_BYTES:
        raise ImageRefused(f"The file is larger than {settings.WALLET_IMAGE_MAX_BYTES // 1024} KB.")
    try:
        image = Image.open(io.BytesIO(raw))
        if image.format not in FORMATS:
            raise ImageRefused("Upload a PNG, JPEG, GIF or WebP image.")
        width, height = image.size
        if width > MAX_SIDE or height > MAX_SIDE:
            raise ImageRefused(f"The image is {width}x{height}; at most {MAX_SIDE} pixels a side.")
        image.load()
    except ImageRefused:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise ImageRefused("The file is not an image, or it is damaged.") from None
    return image


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _resized(image: Image.Image, size: Size) -> Image.Image:
    source = image.convert("RGBA")
    box = (size.width, size.height)
    if size.fit == "cover":
        return ImageOps.fit(source, box, method=Image.Resampling.LANCZOS)
    if size.fit == "contain":
        return ImageOps.contain(source, box, method=Image.Resampling.LANCZOS)
    return ImageOps.pad(source, box, method=Image.Resampling.LANCZOS, color=(0, 0, 0, 0))


def design_image_set(*, design: WalletDesign, upload: Upload, raw: bytes) -> list[WalletImage]:
    """Replace the design's images of ``upload`` (icon, logo or strip) with ``raw`` at every size.
    Raises ``ImageRefused`` before writing anything. Locks the WalletDesign row (SELECT ... FOR
    UPDATE) so that two saves of one design's images at once replace the set one after the other,
    instead of the second meeting the first's uncommitted rows in the unique (design, name)."""
    image = image_check(raw)
    rows = []
    for size in SIZES[upload]:
        resized = _resized(image, size)
        rows.append(
            WalletImage(
                design=design, name=size.name, data=_png(resized), width=resized.width, height=resized.height
            )
        )
    with transaction.atomic():
        WalletDesign.objects.select_for_update().filter(pk=design.pk).first()
        WalletImage.objects.filter(design=design, name__in=[s.name for s in SIZES[upload]]).delete()
        WalletImage.objects.bulk_create(rows)
    return rows


def design_image_remove(*, design: WalletDesign, upload: Upload) -> None:
    """Back to the generated stand-in (the icon, the Google logo) or none (the logo, the strip)."""
    WalletImage.objects.filter(design=design, name__in=[s.name for s in SIZES[upload]]).delete()


def design_uploads(design: WalletDesign) -> set[Upload]:
    """Which of icon, logo and strip the design has uploaded images for."""
    if design.pk is None:
        return set()
    names = set(WalletImage.objects.filter(design=design).values_list("name", flat=True))
    return {upload for upload in UPLOADS if SIZES[upload][0].name in names}


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


@functools.lru_cache(maxsize=256)
def _stand_in(name: str, background: str, foreground: str, letter: str) -> bytes:
    """A square of the design's background with its initial in the foreground colour: the icon (and
    Google's logo) of a design nobody uploaded one for. Drawn, not shipped, so no binary lives in the
    repository; the same inputs draw the same bytes."""
    side = {"icon.png": 29, "icon@2x.png": 58, "icon@3x.png": 87, "google-logo.png": 660}[name]
    image = Image.new("RGB", (side, side), _rgb(background))
    draw = ImageDraw.Draw(image)
    inset = side // 8
    draw.ellipse(
        (inset, inset, side - inset, side - inset), outline=_rgb(foreground), width=max(1, side // 20)
    )
    if letter:
        font = ImageFont.load_default(size=side // 2)
        draw.text((side / 2, side / 2), letter, fill=_rgb(foreground), font=font, anchor="mm")
    return _png(image)


STAND_INS = frozenset({"icon.png", "icon@2x.png", "icon@3x.png", "google-logo.png"})


def _initial(title: str) -> str:
    letter = next((c for c in title if c.isalnum()), "")
    return letter.upper() if letter.isascii() else ""


def design_files(design: WalletDesign, *, title: str) -> dict[str, bytes]:
    """Every image file of the design by name: the uploads' sizes, and for a missing icon (or Google
    logo) the drawn stand-in with ``title``'s initial."""
    files: dict[str, bytes] = {}
    if design.pk is not None:
        files = {image.name: bytes(image.data) for image in WalletImage.objects.filter(design=design)}
    for name in STAND_INS - files.keys():
        files[name] = _stand_in(name, design.background_color, design.foreground_color, _initial(title))
    return files


def design_public_image(*, image_token: str, name: str) -> bytes | None:
    """One of ``PUBLIC_FILES`` of the design with this token, stand-ins included; None when unknown."""
    if name not in PUBLIC_FILES:
        return None
    design = (
        WalletDesign.objects.select_related("company", "company__loyalty_program")
        .filter(image_token=image_token)
        .first()
    )
    if design is None:
        return None
    return design_files(design, title=design_title(design)).get(name)


def design_title(design: WalletDesign) -> str:
    """The program's name on the pass: the design's, else the loyalty program's, else the company's."""
    if design.program_name:
        return design.program_name
    program = getattr(design.company, "loyalty_program", None)
    return (program.name if program is not None else "") or design.company.trading_name or design.company.name


def design_for(company_id: str) -> WalletDesign:
    """The company's design, or an unsaved one with the defaults when none was edited."""
    design = (
        WalletDesign.objects.select_related("company", "company__loyalty_program")
        .filter(company_id=company_id)
        .first()
    )
    if design is None:
        company = Company.objects.select_related("loyalty_program").get(pk=company_id)
        design = WalletDesign(company=company)
    return design


def design_image_url(*, company_id: str, base_url: str, name: str = "google-logo.png") -> str:
    """The public URL of one of the design's ``PUBLIC_FILES`` (Google Wallet fetches the logo from
    it). Saves the company's design with its defaults first if it has none, so the URL has a token."""
    design, _ = WalletDesign.objects.get_or_create(company_id=company_id)
    return f"{base_url.rstrip('/')}/wallet/images/{design.image_token}/{name}"
