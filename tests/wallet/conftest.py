# The loopback APNs fixtures (apns_pki, apns), for every wallet test that pushes; the loopback Google.
from tests.wallet.apns_receiver import apns, apns_pki  # noqa: F401
from tests.wallet.google_receiver import google  # noqa: F401
