"""Kubernetes Status objects and the exception that carries them.

Handlers raise ApiError; the HTTP layer turns it into a Status body with the
same code, so every error path answers the shape clients decide on (code
first, then reason; kubernetes-api.md §3).
"""


class ApiError(Exception):
    """An error answered as a `kind: Status` body (or plain text for 429)."""

    def __init__(self, code, reason, message, details=None, retry_after=0, plain=False):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retry_after = retry_after
        # APF answers 429 as text/plain; some clients only parse JSON errors,
        # so this stays a separate switch.
        self.plain = plain

    def status(self):
        return status_object(self.code, self.reason, self.message, self.details,
                             self.retry_after)


def status_object(code, reason, message, details=None, retry_after=0):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {},
          "status": "Success" if code < 400 else "Failure", "message": message,
          "reason": reason, "code": code}
    if details is not None or retry_after:
        st["details"] = dict(details or {})
        if retry_after:
            st["details"]["retryAfterSeconds"] = retry_after
    return st


def _obj_details(rt, name):
    d = {"kind": rt.plural}
    if name:
        d["name"] = name
    if rt.group:
        d["group"] = rt.group
    return d


def not_found(rt, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (rt.qualified(), name),
                    _obj_details(rt, name))


def unknown_resource():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(rt, name, message=None, retry_after=0):
    return ApiError(409, "AlreadyExists",
                    message or '%s "%s" already exists' % (rt.qualified(), name),
                    _obj_details(rt, name), retry_after)


def conflict(rt, name):
    return ApiError(409, "Conflict",
                    'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    "please apply your changes to the latest version and try again"
                    % (rt.qualified(), name), _obj_details(rt, name))


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def invalid(kind, name, field, message, group=""):
    """422: the details use the Kind (not the plural), as the real server does."""
    details = {"name": name, "kind": kind,
               "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]}
    if group:
        details["group"] = group
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s: %s' % (kind, name, field, message),
                    details)


def invalid_list_options(message):
    return ApiError(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: " + message,
                    {"group": "meta.k8s.io", "kind": "ListOptions",
                     "causes": [{"reason": "FieldValueInvalid", "message": message}]})


def method_not_allowed(verb, rt):
    return ApiError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                    {"kind": rt.plural} if rt else {})


def unsupported_media(ctype, accepted):
    return ApiError(415, "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types "
                    "include: " + ", ".join(accepted))


def not_acceptable(accepted):
    return ApiError(406, "NotAcceptable",
                    "only the following media types are accepted: " + ", ".join(accepted))


def expired(message):
    return ApiError(410, "Expired", message)


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def internal(message):
    return ApiError(500, "InternalError", "Internal error occurred: " + message,
                    {"causes": [{"message": message}]})


def too_large_rv(rv, current):
    e = ApiError(504, "Timeout", "Timeout: Too large resource version: %s, current: %s"
                 % (rv, current),
                 {"causes": [{"reason": "ResourceVersionTooLarge",
                              "message": "Too large resource version"}]}, retry_after=1)
    return e
