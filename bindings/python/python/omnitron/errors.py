"""Exceptions. Every error the engine raises is an :class:`OmnitronError` whose ``code`` is the
engine's stable id (``DI001`` for a missing provider, ...), the same one C, Rust and Node see."""

from __future__ import annotations

from typing import Sequence


class OmnitronError(Exception):
    """Base class of every Omnitron error."""

    code: str = "E000"

    def __init__(self, message: str, *, code: str | None = None, errors: Sequence[BaseException] = ()) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        #: For aggregate errors (a dispose where several hooks failed): each original exception.
        self.errors: list[BaseException] = list(errors)

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class InvalidArgumentError(OmnitronError, TypeError, ValueError):
    """An argument of the wrong type or value (E001)."""

    code = "E001"


class InvalidHandleError(OmnitronError):
    code = "E002"


class InternalError(OmnitronError):
    code = "E003"


class CallbackFailedError(OmnitronError):
    code = "E004"


class CancelledError(OmnitronError):
    code = "E005"


class TimeoutError(OmnitronError):  # noqa: A001 - mirrors the engine's name
    code = "E006"


class DIError(OmnitronError):
    """Base class of dependency-injection errors."""


class MissingProviderError(DIError, LookupError):
    code = "DI001"


class CircularDependencyError(DIError):
    code = "DI002"


class DuplicateProviderError(DIError):
    code = "DI003"


class InvalidProviderError(DIError, TypeError):
    code = "DI004"


class AsyncResolutionError(DIError):
    """An async provider was resolved synchronously (DI005)."""

    code = "DI005"


class ScopeViolationError(DIError):
    code = "DI006"


class ScopeRequiredError(DIError):
    code = "DI007"


class ContainerDisposedError(DIError):
    code = "DI008"


class CircularModuleImportError(DIError):
    code = "DI009"


class NotExportedError(DIError, LookupError):
    code = "DI010"


class FactoryError(DIError):
    code = "DI011"


class LifecycleError(DIError):
    code = "DI012"


class InvalidModuleError(DIError, TypeError):
    code = "DI013"


class InvalidScopeError(DIError, ValueError):
    code = "DI014"


class DependencyTooDeepError(DIError):
    """A dependency chain longer than the engine builds (DI015)."""

    code = "DI015"


class MetricError(OmnitronError):
    """Base class of metrics errors. Those prometheus_client raises ``ValueError`` for are
    ``ValueError`` here too."""


class InvalidMetricNameError(MetricError, ValueError):
    code = "M001"


class InvalidLabelsError(MetricError, ValueError):
    code = "M002"


class CardinalityExceededError(MetricError):
    code = "M003"


class MetricConflictError(MetricError, ValueError):
    """A name registered again as another kind, or with other help, labels or buckets (M004)."""

    code = "M004"


class InvalidBucketsError(MetricError, ValueError):
    code = "M005"


class InvalidMetricValueError(MetricError, ValueError):
    code = "M006"


class ExporterFailedError(MetricError, OSError):
    code = "M007"


class ResilienceError(OmnitronError):
    """Base class of resilience errors."""


class CircuitOpenError(ResilienceError):
    code = "R001"


class RateLimitedError(ResilienceError):
    code = "R002"


class BulkheadFullError(ResilienceError):
    code = "R003"


class RetryExhaustedError(ResilienceError):
    code = "R004"


class InvalidPolicyError(ResilienceError, ValueError):
    code = "R005"


class RpcError(OmnitronError):
    """Base class of RPC errors. ``data`` carries what the remote side attached (or None)."""

    data: object = None


class ServiceNotFoundError(RpcError, LookupError):
    code = "RPC001"


class MethodNotFoundError(RpcError, LookupError):
    code = "RPC002"


class AuthFailedError(RpcError, PermissionError):
    code = "RPC003"


class PeerDisconnectedError(RpcError, ConnectionError):
    code = "RPC004"


class ProtocolError(RpcError):
    code = "RPC005"


class FrameTooLargeError(RpcError):
    code = "RPC006"


class DuplicateServiceError(RpcError):
    code = "RPC007"


class RemoteError(RpcError):
    """The remote handler failed with an error that had no Omnitron code (RPC008)."""

    code = "RPC008"


class NotConnectedError(RpcError, ConnectionError):
    code = "RPC009"


class InvalidServiceError(RpcError, ValueError):
    code = "RPC010"


class ProcessError(OmnitronError):
    """Base class of process, pool and supervision errors."""


class SpawnFailedError(ProcessError):
    code = "P001"


class ChildNotReadyError(ProcessError):
    code = "P002"


class QueueFullError(ProcessError):
    code = "P003"


class WorkerLostError(ProcessError):
    code = "P004"


class NotRunningError(ProcessError):
    code = "P005"


class RestartLimitError(ProcessError):
    code = "P006"


class InvalidConfigError(ProcessError, ValueError):
    code = "P007"


class ChildNotFoundError(ProcessError, LookupError):
    code = "P008"


class NoParentError(ProcessError):
    code = "P009"


class WorkflowError(OmnitronError):
    """Base class of workflow errors."""


class WorkflowCycleError(WorkflowError):
    code = "WF001"


class UnknownDependencyError(WorkflowError):
    code = "WF002"


class DuplicateStageError(WorkflowError):
    code = "WF003"


class InvalidWorkflowError(WorkflowError):
    code = "WF004"


class WorkflowNotFoundError(WorkflowError):
    code = "WF005"


class RunNotFoundError(WorkflowError):
    code = "WF006"


class StageFailedError(WorkflowError):
    code = "WF007"


class StageTimeoutError(WorkflowError):
    code = "WF008"


class WorkflowTimeoutError(WorkflowError):
    code = "WF009"


class CompensationFailedError(WorkflowError):
    code = "WF010"


class RunCancelledError(WorkflowError):
    code = "WF011"


class JournalError(WorkflowError):
    code = "WF012"


class JournalVersionError(WorkflowError):
    code = "WF013"


class DuplicateWorkflowError(WorkflowError):
    code = "WF014"


class RunInterruptedError(WorkflowError):
    code = "WF015"


class RunIdConflictError(WorkflowError):
    code = "WF016"


_BY_CODE: dict[str, type[OmnitronError]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        InvalidHandleError,
        InternalError,
        CallbackFailedError,
        CancelledError,
        TimeoutError,
        MissingProviderError,
        CircularDependencyError,
        DuplicateProviderError,
        InvalidProviderError,
        AsyncResolutionError,
        ScopeViolationError,
        ScopeRequiredError,
        ContainerDisposedError,
        CircularModuleImportError,
        NotExportedError,
        FactoryError,
        LifecycleError,
        InvalidModuleError,
        InvalidScopeError,
        DependencyTooDeepError,
        InvalidMetricNameError,
        InvalidLabelsError,
        CardinalityExceededError,
        MetricConflictError,
        InvalidBucketsError,
        InvalidMetricValueError,
        ExporterFailedError,
        CircuitOpenError,
        RateLimitedError,
        BulkheadFullError,
        RetryExhaustedError,
        InvalidPolicyError,
        ServiceNotFoundError,
        MethodNotFoundError,
        AuthFailedError,
        PeerDisconnectedError,
        ProtocolError,
        FrameTooLargeError,
        DuplicateServiceError,
        RemoteError,
        NotConnectedError,
        InvalidServiceError,
        SpawnFailedError,
        ChildNotReadyError,
        QueueFullError,
        WorkerLostError,
        NotRunningError,
        RestartLimitError,
        InvalidConfigError,
        ChildNotFoundError,
        NoParentError,
        WorkflowCycleError,
        UnknownDependencyError,
        DuplicateStageError,
        InvalidWorkflowError,
        WorkflowNotFoundError,
        RunNotFoundError,
        StageFailedError,
        StageTimeoutError,
        WorkflowTimeoutError,
        CompensationFailedError,
        RunCancelledError,
        JournalError,
        JournalVersionError,
        DuplicateWorkflowError,
        RunInterruptedError,
        RunIdConflictError,
    )
}


def from_code(code: str, message: str) -> OmnitronError:
    """The exception for an engine error code (used by the native module)."""
    cls = _BY_CODE.get(code, OmnitronError)
    return cls(message, code=code)


def remote_error(code: str, message: str, data: object = None) -> OmnitronError:
    """The exception for an error that came over the wire. Codes Omnitron does not know (an
    application's own) give an :class:`OmnitronError` with that code."""
    err = from_code(code, message)
    err.data = data  # type: ignore[attr-defined]
    return err


__all__ = [name for name, value in globals().items() if isinstance(value, type) and issubclass(value, OmnitronError)] + [
    "from_code",
    "remote_error",
]
