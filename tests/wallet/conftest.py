# The loopback APNs fixtures (apns_pki, apns), for every wallet test that pushes.
from tests.wallet.apns_receiver import apns, apns_pki  # noqa: F401
