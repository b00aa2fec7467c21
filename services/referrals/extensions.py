"""nameko extensions the referrals service reads its configuration through, at container start."""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from services.common.logs import get_logger

from .attention import check_threshold

log = get_logger(__name__)


class SafeguardingThreshold(DependencyProvider):
    """The Clutter Image Rating from which a room raises a safeguarding task (attention.py).

    Config: SAFEGUARDING_CIR_THRESHOLD, 1..9 (absent or blank: 7, DOMAIN.md's level 3). A bad
    value stops the container from starting, naming the setting.
    """

    def setup(self):
        raw = self.container.config.get("SAFEGUARDING_CIR_THRESHOLD")
        try:
            self.threshold = check_threshold(raw)
        except ValueError as exc:
            log.error("safeguarding_threshold_invalid", error=str(exc))
            raise
        log.info("safeguarding_threshold_loaded", threshold=self.threshold)

    def get_dependency(self, worker_ctx):
        return self.threshold
