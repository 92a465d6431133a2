"""The one typed error hierarchy of Pointsman.

Every failure a client can see is a :class:`PointsmanError`. Stages raise them; the server edge
maps them to the client's own wire format exactly once (OpenAI error JSON today, Anthropic's
later), so no handler formats errors by hand and no traceback ever reaches a client.

::

    PointsmanError                       status  retryable
    ├── InvalidRequestError              400
    │   └── UnprocessableContentError    422     (well-formed, but content we cannot serve)
    ├── AuthenticationError              401
    ├── PermissionDeniedError            403
    ├── NotFoundError                    404
    ├── MethodNotAllowedError            405
    ├── PayloadTooLargeError             413
    ├── UnsupportedMediaTypeError        415
    ├── RateLimitError                   429     (our own limits; carries Retry-After)
    │   └── BudgetExceededError          429     a hard budget would be exceeded; names it
    ├── ServiceUnavailableError          503     (nothing could serve the request)
    └── UpstreamError                    502     (a provider failed; ``deployment`` names it)
        ├── UpstreamBadRequestError      400     the provider refused the request as invalid
        │   ├── ContextWindowExceededError 400   prompt too long for the model
        │   └── ContentFilteredError     400     the provider's safety filter refused
        ├── UpstreamAuthError            502     our credentials for the provider were refused
        ├── UpstreamRateLimitedError     429  ✓  carries the provider's Retry-After
        ├── UpstreamUnavailableError     502  ✓  5xx, overloaded, connection refused/reset
        ├── UpstreamTimeoutError         504  ✓  connect, first-token, idle or total timeout
        └── UpstreamProtocolError        502     the provider answered with something malformed

``retryable`` marks what the reliability layer may retry or fail over; nothing else is.

:class:`ConfigError` stands apart: it is raised at start or reload, never sent to a client.
"""

from __future__ import annotations

from collections.abc import Mapping


class PointsmanError(Exception):
    """Base of every error a client can see.

    Args:
        message: human-readable text; must never contain secrets.
        param: the request field at fault, as a path like ``messages[0].role``.
        code: a stable machine-readable code (e.g. ``model_not_found``).
        headers: extra response headers (e.g. ``Retry-After``).
    """

    status: int = 500
    type: str = "api_error"
    code: str | None = None
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = dict(headers or {})


class InvalidRequestError(PointsmanError):
    status = 400
    type = "invalid_request_error"


class UnprocessableContentError(InvalidRequestError):
    status = 422
    code = "unsupported_content"


class AuthenticationError(PointsmanError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDeniedError(PointsmanError):
    status = 403
    type = "permission_error"


class NotFoundError(PointsmanError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class MethodNotAllowedError(PointsmanError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class PayloadTooLargeError(PointsmanError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class UnsupportedMediaTypeError(PointsmanError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


class RateLimitError(PointsmanError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExceededError(RateLimitError):
    """A budget would be exceeded; the message names the budget and when it resets."""

    type = "insufficient_quota"  # what OpenAI sends when an account is out of quota
    code = "budget_exceeded"


class ServiceUnavailableError(PointsmanError):
    status = 503
    type = "service_unavailable"
    code = "no_healthy_deployment"


class UpstreamError(PointsmanError):
    """A provider failed. ``deployment`` names which one (``provider/model``)."""

    status = 502
    type = "upstream_error"
    code = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        deployment: str | None = None,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code, headers=headers)
        self.deployment = deployment
        self.upstream_status = upstream_status
        self.retry_after = retry_after


class UpstreamBadRequestError(UpstreamError):
    status = 400
    type = "invalid_request_error"
    code = "upstream_bad_request"


class ContextWindowExceededError(UpstreamBadRequestError):
    code = "context_length_exceeded"


class ContentFilteredError(UpstreamBadRequestError):
    code = "content_filter"


class UpstreamAuthError(UpstreamError):
    code = "upstream_auth_failed"


class UpstreamRateLimitedError(UpstreamError):
    status = 429
    type = "rate_limit_error"
    code = "upstream_rate_limited"
    retryable = True


class UpstreamUnavailableError(UpstreamError):
    code = "upstream_unavailable"
    retryable = True


class UpstreamTimeoutError(UpstreamError):
    status = 504
    code = "upstream_timeout"
    retryable = True


class UpstreamProtocolError(UpstreamError):
    code = "upstream_protocol_error"


class ConfigError(Exception):
    """The configuration is invalid. ``problems`` holds one line per error, each naming a path."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(problems))
