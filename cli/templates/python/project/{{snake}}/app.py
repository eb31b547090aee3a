"""The root module: what the container provides (add the modules you generate to `imports`)."""

from omnitron import module

from .config import AppConfig
from .greeter import Greeter


@module(imports=[], providers=[AppConfig, Greeter], exports=[Greeter])
class AppModule:
    pass
