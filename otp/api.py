from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from companies.auth import partner_of
from core.inputs import Input, json_object
from core.timefmt import duration_words
from core.views import ApiView
from otp.models import SESSION_TTL
from otp.services import otp_request, otp_verify


class RequestOtpIn(Input):
    identifier = serializers.CharField(max_length=254, help_text="Phone (+55…), e-mail or CPF.")
    channel = serializers.ChoiceField(
        choices=["whatsapp", "sms"],
        required=False,
        help_text="For a phone (or a CPF's phone): whatsapp (the default) or sms, where offered.",
    )


class RequestOtpOut(serializers.Serializer):
    status = serializers.CharField(default="sent")
    channel = serializers.CharField(help_text="The channel that delivered the code: whatsapp, sms or email.")
    expires_in = serializers.IntegerField()


class RequestOtpView(ApiView):
    """POST /api/v2/auth/request-otp/ — send a 6-digit code to the customer."""

    @extend_schema(operation_id="auth_request_otp", request=RequestOtpIn, responses=RequestOtpOut)
    def post(self, request: Request) -> Response:
        body = RequestOtpIn(data=json_object(request))
        body.is_valid(raise_exception=True)
        sent = otp_request(
            company=partner_of(request).company,
            identifier=body.validated_data["identifier"],
            channel=body.validated_data.get("channel"),
        )
        return Response(RequestOtpOut(sent).data)


class VerifyOtpIn(Input):
    identifier = serializers.CharField(max_length=254)
    otp_code = serializers.RegexField(r"^[0-9]{6}\Z", error_messages={"invalid": "Six digits."})


class VerifyOtpOut(serializers.Serializer):
    customer_id = serializers.CharField(source="customer.pk")
    is_new = serializers.BooleanField()
    otp_session = serializers.CharField(
        source="session_token",
        help_text=f"Send as X-OTP-Session; valid {duration_words(SESSION_TTL)} for this customer.",
    )
    full_name = serializers.CharField(source="customer.full_name")
    points_balance = serializers.IntegerField(source="customer.points_balance")
    tier = serializers.CharField(source="customer.tier")


class VerifyOtpView(ApiView):
    """POST /api/v2/auth/verify-otp/ — check the code; enrols a new customer; opens an OTP session."""

    @extend_schema(operation_id="auth_verify_otp", request=VerifyOtpIn, responses=VerifyOtpOut)
    def post(self, request: Request) -> Response:
        body = VerifyOtpIn(data=json_object(request))
        body.is_valid(raise_exception=True)
        verified = otp_verify(
            company=partner_of(request).company,
            identifier=body.validated_data["identifier"],
            code=body.validated_data["otp_code"],
        )
        return Response(VerifyOtpOut(verified).data)
