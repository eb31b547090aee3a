"""The application's settings: a provider the container injects, and tests override."""

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AppConfig:
    #: How the greeter greets (omnitron.yaml sets GREETING for its process).
    greeting: str = field(default_factory=lambda: os.environ.get("GREETING", "Hello"))
