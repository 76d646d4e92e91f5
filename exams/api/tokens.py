"""simplejwt's sign-in and refresh, taking their fields as the contract declares them
(exams/contract/rest.py: LoginRequest, RefreshRequest), and refusing a deleted user's refresh
token like any other dead token."""

from django.contrib.auth import get_user_model
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer

from exams.contract.fields import Text


class LoginSerializer(TokenObtainPairSerializer):
    """SIMPLE_JWT["TOKEN_OBTAIN_SERIALIZER"]. simplejwt's fields trim whitespace, so a password
    with a trailing space was checked without it, and "  " was refused as blank where the schema
    says any non-empty string goes: the contract's Text takes each as sent (the page trims the
    username itself)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields[self.username_field] = Text(write_only=True)
        self.fields["password"] = Text(write_only=True, style={"input_type": "password"})


class RefreshSerializer(TokenRefreshSerializer):
    """SIMPLE_JWT["TOKEN_REFRESH_SERIALIZER"]; it looks the user up with .get(), so a deleted
    user's token raised DoesNotExist: a 500 instead of a 401. Its token is taken as sent, like
    the sign-in's fields."""

    refresh = Text()

    def validate(self, attrs: dict) -> dict:
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account") from None
