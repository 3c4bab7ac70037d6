"""The digest of an OpenDelivery client's secret.

Django's password hashers stretch (PBKDF2, a million iterations: a second of CPU here) because a
person's password is guessable. A client secret is 256 random bits made by ``od_client_create``:
nothing to guess, so stretching it buys no safety, and every token request would pay that second
of CPU — from a caller who need not know any secret, under the per-address budget only. The same
salted PBKDF2-SHA256, with few iterations."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ClientSecretHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_od_secret"
    iterations = 1000
