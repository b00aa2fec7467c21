"""nameko extensions the safety service reads its configuration through, at container start."""
from __future__ import annotations

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from services.common.logs import get_logger

from .triage import TriageConfigError, load_rules

log = get_logger(__name__)


class TriageRulesFile(DependencyProvider):
    """The HFSV triage rules, loaded and validated once per container.

    Config: TRIAGE_RULES_PATH (absent: the packaged triage_rules.json). A bad
    file stops the container from starting with a message naming the bad key.
    """

    def setup(self):
        path = self.container.config.get("TRIAGE_RULES_PATH") or None
        try:
            self.rules = load_rules(path)
        except TriageConfigError as exc:
            log.error("triage_rules_invalid", path=path or "default", error=str(exc))
            raise
        log.info("triage_rules_loaded", path=path or "default")

    def get_dependency(self, worker_ctx):
        return self.rules


class ConfiguredTimer(Timer):
    """nameko's Timer with its interval read from config at setup (not fixed at import).

    `@ConfiguredTimer.decorator("OVERDUE_SWEEP_SECONDS", default=300)`
    """

    def __init__(self, config_key: str, default: float, eager: bool = False, **kwargs):
        self.config_key = config_key
        self.default = default
        super().__init__(interval=default, eager=eager, **kwargs)

    def setup(self):
        raw = self.container.config.get(self.config_key, self.default)
        try:
            interval = float(raw)
        except (TypeError, ValueError):
            interval = 0.0
        if interval <= 0:
            raise ValueError(f"config {self.config_key} must be a positive number of seconds, not {raw!r}")
        self.interval = interval


configured_timer = ConfiguredTimer.decorator
