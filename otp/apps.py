from django.apps import AppConfig


class OtpConfig(AppConfig):
    name = "otp"
    verbose_name = "OTP"

    def ready(self) -> None:
        from otp import checks  # noqa: F401  (registers the deploy checks)
