"""The kit's one table: stored answers of idempotent POSTs, per company."""

from django.db import models


class IdempotencyRecord(models.Model):
    """The stored answer to a POST sent with an ``Idempotency-Key``, replayed for 24 hours.

    Written in the same transaction as the operation it answers, so an answer exists exactly when
    the operation committed.
    """

    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    body = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "zupy_idempotencyrecord"  # made before the kit was an app of its own
        constraints = [
            models.UniqueConstraint(fields=["company", "key"], name="idempotency_unique_company_key")
        ]

    def __str__(self) -> str:
        return f"{self.company_id}:{self.key}"
