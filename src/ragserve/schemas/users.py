"""``/v1/user/*`` (spec 2.14): accounts, sessions, profile and tenant settings.

RAGFlow's web handlers read these bodies with ``validate_request`` (101 "required argument are
missing: …") and ``req.get(key, "")``; the models answer the same texts. Unknown keys are
ignored (a profile change may name fields a user cannot change; they are left alone).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from ragserve.domain import Validity
from ragserve.errors import RetCode
from ragserve.schemas.common import Text, fixed_message, required_arguments

Stripped = Annotated[Text, AfterValidator(str.strip)]
ENCRYPTION_NOTE = (
    "The password: as typed, or RSA-encrypted with the server's public key (base64 of the "
    "PKCS#1 v1.5 ciphertext of the base64 password), as RAGFlow's web client sends it."
)


class Register(BaseModel):
    """A new account; it owns a new tenant of the same id."""

    nickname: Stripped = Field(description="The name shown for the user.")
    email: Stripped = Field(description="Unique, ignoring case.")
    password: Text = Field(description=ENCRYPTION_NOTE)

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "nickname", "email", "password")
        return data


class Login(BaseModel):
    """The account's credentials."""

    email: Stripped = ""
    password: Text = Field("", description=ENCRYPTION_NOTE)

    @model_validator(mode="before")
    @classmethod
    def _not_empty(cls, data: Any) -> Any:
        if data == {}:
            raise fixed_message(RetCode.AUTHENTICATION_ERROR, "Unauthorized!", data=False)
        return data


def _new_password(value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise fixed_message(RetCode.ARGUMENT_ERROR, "`new_password` must be a string.")
    return value


class UserSetting(BaseModel):
    """Profile fields to change (only those given), and a new password with the current one.
    Other keys (``email``, ``is_superuser``…) are ignored."""

    nickname: str | None = None
    avatar: str | None = Field(None, description="A `data:image/…;base64,…` URL.")
    language: str | None = Field(None, description="`English`, `Chinese`…")
    color_schema: str | None = Field(None, description="`Bright` or `Dark`.")
    timezone: str | None = Field(None, description="As RAGFlow: `UTC+8\\tAsia/Shanghai`.")
    password: Text = Field(
        "", description="The current password (to change it). " + ENCRYPTION_NOTE
    )
    new_password: Annotated[str | None, BeforeValidator(_new_password)] = Field(
        None, description="The new password, in the same form."
    )


PROFILE_FIELDS = frozenset({"nickname", "avatar", "language", "color_schema", "timezone"})
"""The fields of ``UserSetting`` that change the profile."""


class TenantSettings(BaseModel):
    """The default models of a tenant the caller owns (`name@factory`; "" for none). The
    first five keys must be present; `rerank_id` and `tts_id` change only when given."""

    tenant_id: Text
    llm_id: Text = Field(description="Chat model.")
    embd_id: Text = Field(description="Embedding model of new datasets.")
    asr_id: Text = Field(description="Speech-to-text model.")
    img2txt_id: Text = Field(description="Image-to-text model.")
    rerank_id: Text = Field("", description="Rerank model.")
    tts_id: Text = Field("", description="Text-to-speech model.")

    @model_validator(mode="before")
    @classmethod
    def _required(cls, data: Any) -> Any:
        required_arguments(data, "tenant_id", "asr_id", "embd_id", "img2txt_id", "llm_id")
        return data


TENANT_MODEL_FIELDS = ("llm_id", "embd_id", "asr_id", "img2txt_id", "rerank_id", "tts_id")
"""The fields of ``TenantSettings`` that name models."""


class UserPublic(BaseModel):
    """A user as RAGFlow shows it, less the password hash and the access token."""

    id: str
    nickname: str
    email: str
    avatar: str | None
    language: str
    color_schema: str
    timezone: str
    last_login_time: str | None = Field(description="RFC 1123, GMT; null before any login.")
    is_authenticated: Validity
    is_active: Validity = Field(description='"0" when an administrator disabled the account.')
    is_anonymous: Validity
    login_channel: str = Field(description="`password`.")
    status: Validity
    is_superuser: bool
    create_time: int = Field(description="Milliseconds since the epoch.")
    create_date: str | None = Field(description="RFC 1123, GMT.")
    update_time: int = Field(description="Milliseconds since the epoch.")
    update_date: str | None = Field(description="RFC 1123, GMT.")


class TenantInfo(BaseModel):
    """The caller's own tenant and its default models."""

    tenant_id: str
    name: str
    llm_id: str
    embd_id: str
    rerank_id: str
    asr_id: str
    img2txt_id: str
    tts_id: str
    parser_ids: str = Field(description="`method:Label` pairs offered for parsing, by commas.")
    role: str = Field(description="`owner`.")


class LoginChannel(BaseModel):
    """A single-sign-on channel the login page offers."""

    channel: str = Field(description="Its name, the `{channel}` of `/v1/user/login/{channel}`.")
    display_name: str
    icon: str = Field(description="`sso` unless configured.")


class OAuthCallback(BaseModel):
    """What the provider sends back to the callback (RFC 6749 4.1.2)."""

    code: Text = ""
    state: Text = ""
    error: Text = Field("", description="Set when the provider refused the sign-in.")


class CaptchaRequest(BaseModel):
    """Whose password is to be reset."""

    email: Stripped = ""


class ResetCodeRequest(BaseModel):
    """Mail a reset code to the address, given the captcha it was shown."""

    email: Stripped = ""
    captcha: Stripped = ""


class ResetCodeCheck(BaseModel):
    """The code the e-mail carried."""

    email: Stripped = ""
    otp: Stripped = ""


class PasswordReset(BaseModel):
    """The new password, twice, for the address whose code was just verified."""

    email: Stripped = ""
    new_password: Text = Field("", description=ENCRYPTION_NOTE)
    confirm_new_password: Text = Field("", description=ENCRYPTION_NOTE)
