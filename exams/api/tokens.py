"""Token refresh where a refresh token of a deleted user is refused like any other dead token."""

from django.contrib.auth import get_user_model
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenRefreshSerializer


class RefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh (SIMPLE_JWT["TOKEN_REFRESH_SERIALIZER"]); it looks the user up with
    .get(), so a deleted user's token raised DoesNotExist: a 500 instead of a 401."""

    def validate(self, attrs: dict) -> dict:
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account") from None
