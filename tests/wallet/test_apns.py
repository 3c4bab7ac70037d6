"""The APNs client against a real HTTP/2 server over TLS on loopback: what a Wallet push looks like
on the wire (path, topic, push type, empty body), both ways of authenticating (a provider token that
verifies with the auth key's public key; the Pass Type ID certificate as the TLS client certificate),
and what each of APNs' answers comes to."""

import logging
import threading
import time

import jwt
import pytest

from tests.wallet.apns_receiver import KEY_ID, PASS_TYPE_ID, TEAM_ID, Answer, ApnsReceiver, apns_settings
from tests.wallet.apns_rows import token
from wallet.apple import apns as client
from wallet.apple.apns import apns_push
from wallet.platforms import JobResult

DEVICE = token("device")


def test_a_push_is_an_empty_background_post_to_the_device_with_the_pass_type_id_as_topic(apns):
    result = apns_push(push_token=DEVICE)

    assert result.ok and result.status_code == 200
    (push,) = apns.pushes
    assert push.alpn == "h2", "HTTP/2, as APNs requires"
    assert push.method == "POST"
    assert push.path == f"/3/device/{DEVICE}"
    assert push.body == b"{}", "Wallet pushes carry nothing: the device asks the web service"
    assert push.headers["apns-topic"] == PASS_TYPE_ID
    assert push.headers["apns-push-type"] == "background"
    assert push.headers["apns-priority"] == "5"


def test_token_auth_sends_an_es256_jwt_that_verifies_with_the_auth_keys_public_key(apns, apns_pki):
    apns_push(push_token=DEVICE)

    (push,) = apns.pushes
    scheme, provider_token = push.headers["authorization"].split(" ", 1)
    assert scheme == "bearer"
    header = jwt.get_unverified_header(provider_token)
    assert header["alg"] == "ES256" and header["kid"] == KEY_ID
    claims = jwt.decode(provider_token, apns_pki.auth_public_key, algorithms=["ES256"])
    assert claims["iss"] == TEAM_ID and isinstance(claims["iat"], int)
    assert push.client_subject is None, "token auth presents no client certificate"


def test_one_connection_and_one_provider_token_serve_many_pushes(apns):
    for n in range(3):
        assert apns_push(push_token=token(f"device-{n}")).ok

    assert apns.connections == 1, "the connection is kept open and reused"
    assert len({p.headers["authorization"] for p in apns.pushes}) == 1, "the token is reused, not remade"


def test_a_push_apns_is_slow_to_answer_holds_up_no_other_on_the_same_connection(apns, settings):
    settings.WALLET_TIMEOUT = 60.0
    apns.answers[token("slow")] = [Answer(None)]
    slow: list[JobResult] = []
    waiting = threading.Thread(target=lambda: slow.append(apns_push(push_token=token("slow"))))
    waiting.start()
    try:
        while not apns.pushes_to(token("slow")):
            assert waiting.is_alive()
            time.sleep(0.05)

        assert apns_push(push_token=DEVICE).ok
        assert waiting.is_alive() and slow == [], "answered while the slow push still waits"
        assert apns.connections == 1, "both on one HTTP/2 connection"
    finally:
        apns.shutdown()  # hangs up: the slow push ends with an error
        waiting.join(timeout=30)
    assert slow and not slow[0].ok


def test_certificate_auth_presents_the_pass_type_id_certificate(apns_pki, settings):
    receiver = ApnsReceiver(apns_pki, require_client_cert=True)
    try:
        for name, value in apns_settings(apns_pki, receiver, auth="certificate").items():
            setattr(settings, name, value)
        assert apns_push(push_token=DEVICE).ok
        (push,) = receiver.pushes
        assert push.client_subject is not None and PASS_TYPE_ID in push.client_subject
        assert "authorization" not in push.headers
        assert push.headers["apns-topic"] == PASS_TYPE_ID
    finally:
        client.apns_clients_close()
        receiver.shutdown()


def test_without_the_client_certificate_a_server_that_requires_one_gets_no_push(apns_pki, settings):
    receiver = ApnsReceiver(apns_pki, require_client_cert=True)
    try:
        for name, value in apns_settings(apns_pki, receiver, auth="token").items():
            setattr(settings, name, value)
        result = apns_push(push_token=DEVICE)
        assert not result.ok and not result.gone and result.error
        assert receiver.pushes == []
    finally:
        client.apns_clients_close()
        client._provider_token_forget()
        receiver.shutdown()


@pytest.mark.parametrize(
    ("answer", "gone", "retry_after"),
    [
        (Answer(410, "Unregistered"), True, None),
        (Answer(410, "ExpiredToken"), True, None),
        (Answer(400, "BadDeviceToken"), True, None),
        (Answer(400, "BadTopic"), False, None),
        (Answer(429, "TooManyRequests", (("retry-after", "30"),)), False, 30.0),
        (Answer(500, "InternalServerError"), False, None),
        (Answer(503, "ServiceUnavailable"), False, None),
    ],
)
def test_what_each_answer_comes_to(apns, answer, gone, retry_after):
    apns.answers[DEVICE] = [answer]

    result = apns_push(push_token=DEVICE)

    assert not result.ok
    assert result.gone is gone
    assert result.status_code == answer.status
    assert answer.reason in result.error
    assert result.retry_after == retry_after


def test_a_refused_provider_token_is_logged_as_our_fault_and_made_again(apns, caplog):
    apns.answers[DEVICE] = [Answer(403, "InvalidProviderToken"), Answer(200)]
    first = apns_push(push_token=DEVICE)
    assert not first.ok and not first.gone and first.status_code == 403
    assert any(r.levelno == logging.ERROR and "credentials" in r.getMessage() for r in caplog.records)
    assert client._token is None, "the next push signs a new token"

    assert apns_push(push_token=DEVICE).ok


def test_an_unanswered_push_ends_at_the_timeout(apns, settings):
    settings.WALLET_TIMEOUT = 0.5
    apns.answers[DEVICE] = [Answer(None)]

    result = apns_push(push_token=DEVICE)

    assert not result.ok and not result.gone and "Timeout" in result.error


def test_nothing_listening_is_a_failed_try_not_a_crash(apns, settings):
    settings.WALLET_APNS_URL = "https://127.0.0.1:9"
    result = apns_push(push_token=DEVICE)
    assert not result.ok and not result.gone and result.error


def test_missing_settings_are_a_failed_try_that_names_them(apns, settings):
    settings.WALLET_APPLE_PASS_TYPE_ID = ""
    result = apns_push(push_token=DEVICE)
    assert not result.ok and "WALLET_APPLE_PASS_TYPE_ID" in result.error
    assert apns.pushes == []

    settings.WALLET_APPLE_PASS_TYPE_ID = PASS_TYPE_ID
    settings.WALLET_APNS_KEY_ID = ""
    assert "WALLET_APNS_KEY_ID" in apns_push(push_token=DEVICE).error
