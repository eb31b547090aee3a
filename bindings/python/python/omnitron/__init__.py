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
from .metrics import REGISTRY, Counter, Gauge, Histogram, Registry, metric
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
    Supervisor,
    child,
    on_child_crash,
    on_child_restart,
    python_worker,
    supervisor,
)
from ._poll import busy_poll
from .rpc import Peer, ServiceProxy, on_event, public, service
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
    "ChildInfo",
    "HealthCheck",
    "Pool",
    "Supervisor",
    "child",
    "on_child_crash",
    "on_child_restart",
    "python_worker",
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
    "ServiceProxy",
    "busy_poll",
    "on_event",
    "public",
    "service",
    "REGISTRY",
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
