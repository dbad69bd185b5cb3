"""Status codes (PROTOCOL.md section 11) and the exception a failed call raises."""
from __future__ import annotations

import enum
from typing import Any, Optional, Sequence, Tuple


class StatusCode(enum.IntEnum):
    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    @classmethod
    def decode(cls, value: int) -> "StatusCode":
        """Any value outside 0..16 is UNKNOWN (section 11.1)."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


def parse_error_details(raw: bytes) -> Optional[Any]:
    """Decodes a TRAILERS details field as ova.v1.ErrorDetails; None if empty or undecodable."""
    if not raw:
        return None
    try:
        from .generated.ova.v1 import common_pb2

        details = common_pb2.ErrorDetails()
        details.ParseFromString(raw)
        return details
    except Exception:  # a client that cannot decode the details ignores them (11.2)
        return None


class OvaError(Exception):
    """A call that ended with a status other than OK.

    ``code`` is a :class:`StatusCode`, ``message`` the status message, ``details`` the parsed
    ``ova.v1.ErrorDetails`` (or None), ``trailing_metadata`` the trailers' metadata.
    ``not_started`` is True when the server did not process the call (it crossed the server's
    GOAWAY, or its connection was closing before it was sent): it is safe to send again.
    """

    not_started = False

    def __init__(
        self,
        code: int,
        message: str = "",
        details: Optional[Any] = None,
        trailing_metadata: Sequence[Tuple[str, Any]] = (),
        raw_details: bytes = b"",
    ) -> None:
        self.code = StatusCode.decode(int(code))
        self.message = message
        self.details = details
        self.raw_details = raw_details
        self.trailing_metadata = list(trailing_metadata)
        super().__init__(f"{self.code.name}: {message}" if message else self.code.name)

    @property
    def field_violations(self) -> list:
        return list(self.details.field_violations) if self.details is not None else []

    @property
    def retry_delay_ms(self) -> Optional[int]:
        if self.details is not None and self.details.HasField("retry_info"):
            return self.details.retry_info.retry_delay_ms
        return None

    @property
    def reason(self) -> str:
        return self.details.reason if self.details is not None else ""
