"""Omnitron for Python: the Rust engine with Pythonic decorators.

::

    from omnitron import Container, injectable

    @injectable
    class Repo: ...

    @injectable
    class Service:
        def __init__(self, repo: Repo) -> None:
            self.repo = repo

    c = Container()
    c.register(Repo)
    c.register(Service)
    c.resolve(Service)
"""

from . import _native
from .app import Omnitron, OmnitronApp
from .di import (
    CONTEXT,
    Container,
    ContainerScope,
    DynamicModule,
    Inject,
    Provide,
    Scope,
    Token,
    create_token,
    inject,
    inject_all,
    injectable,
    module,
    provide,
)
from .errors import OmnitronError
from .metrics import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    Registry,
    generate_latest,
    metric,
    start_http_server,
)
from .resilience import (
    Bulkhead,
    CircuitBreaker,
    RateLimiter,
    RetryPolicy,
    bulkhead,
    circuit_breaker,
    rate_limit,
    retry,
    timeout,
)
from .process import (
    ChildInfo,
    HealthCheck,
    Pool,
    StatusPage,
    Supervisor,
    child,
    on_child_crash,
    on_child_restart,
    python_worker,
    supervisor,
)
from ._poll import busy_poll
from ._process_pool import process_pool
from .rpc import Peer, ServiceInfo, ServiceProxy, emit_event, inject_process, on_event, proxy_info, public, service
from .telemetry import (
    TraceHeaders,
    current_trace,
    flush_traces,
    in_trace,
    span,
    trace,
    tracing_enabled,
    tracing_from_env,
)
from .queue import (
    Job,
    JobInfo,
    Queue,
    QueueEvent,
    Worker,
    cron,
    interval,
    on_queue_event,
    process_message,
    queue_processor,
)
from .workflow import (
    RunInfo,
    StageContext,
    WorkflowEngine,
    WorkflowRun,
    compensate,
    define_workflow,
    stage,
    workflow,
)

__version__: str = _native.version()

__all__ = [
    "Job",
    "JobInfo",
    "Queue",
    "QueueEvent",
    "Worker",
    "cron",
    "interval",
    "on_queue_event",
    "process_message",
    "queue_processor",
    "ChildInfo",
    "HealthCheck",
    "Pool",
    "StatusPage",
    "Supervisor",
    "child",
    "on_child_crash",
    "on_child_restart",
    "python_worker",
    "process_pool",
    "supervisor",
    "RunInfo",
    "StageContext",
    "WorkflowEngine",
    "WorkflowRun",
    "compensate",
    "define_workflow",
    "stage",
    "workflow",
    "Peer",
    "ServiceInfo",
    "ServiceProxy",
    "busy_poll",
    "emit_event",
    "on_event",
    "proxy_info",
    "inject_process",
    "public",
    "service",
    "TraceHeaders",
    "current_trace",
    "flush_traces",
    "in_trace",
    "span",
    "trace",
    "tracing_enabled",
    "tracing_from_env",
    "CONTENT_TYPE_LATEST",
    "REGISTRY",
    "generate_latest",
    "start_http_server",
    "Bulkhead",
    "CircuitBreaker",
    "Counter",
    "Gauge",
    "Histogram",
    "RateLimiter",
    "Registry",
    "RetryPolicy",
    "bulkhead",
    "circuit_breaker",
    "metric",
    "rate_limit",
    "retry",
    "timeout",
    "CONTEXT",
    "Container",
    "ContainerScope",
    "DynamicModule",
    "Inject",
    "Omnitron",
    "OmnitronApp",
    "OmnitronError",
    "Provide",
    "Scope",
    "Token",
    "create_token",
    "inject",
    "inject_all",
    "injectable",
    "module",
    "provide",
]
