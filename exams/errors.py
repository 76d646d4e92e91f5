"""The one application error type; the API and the sockets turn it into the contract's error body."""


class ServiceError(Exception):
    """A rule said no. `code` and `status` are the contract's error code and HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


class NotFound(ServiceError):
    status, code = 404, "not_found"


class NotAuthenticated(ServiceError):
    status, code = 401, "not_authenticated"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class TimeUp(ServiceError):
    status, code = 410, "time_up"


class Unavailable(ServiceError):
    status, code = 503, "service_unavailable"
