"""Keep cached API-key lookups true to the table, whoever changes a key.

``api_key_revoke`` forgets the key it revokes, but keys also change in the admin (read-only toggled,
a key deleted, a company deleted with its keys). Every save and delete of a key drops its cached
lookup here, now and again once the transaction commits (a request between the two could re-cache
the row as it was before the commit), so the next request reads the key as it is.
"""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from companies.models import ApiKey, Company
from companies.selectors import api_key_cache_forget
from companies.services import loyalty_program_create


@receiver(post_save, sender=ApiKey, dispatch_uid="zupy.api_key_saved")
@receiver(post_delete, sender=ApiKey, dispatch_uid="zupy.api_key_deleted")
def forget_cached_api_key(sender: type[ApiKey], instance: ApiKey, **kwargs: Any) -> None:
    api_key_cache_forget(api_key=instance)
    transaction.on_commit(lambda: api_key_cache_forget(api_key=instance), robust=True)


@receiver(post_save, sender=Company, dispatch_uid="zupy.company_created")
def create_loyalty_program(
    sender: type[Company], instance: Company, created: bool, raw: bool, **kwargs: Any
) -> None:
    """Every company has exactly one loyalty program, however it was created (service, admin, a
    factory, a fixture): it is created here, in the company's transaction."""
    if created and not raw:
        loyalty_program_create(company=instance)
