"""Gathering answers with one deadline: a slow or absent service is named, never silently left out."""
import eventlet

from services.common.gather import gather


class Reply:
    def __init__(self, value, delay=0.0, error=None):
        self.value, self.delay, self.error = value, delay, error

    def result(self):
        eventlet.sleep(self.delay)
        if self.error:
            raise self.error
        return self.value


class Proxy:
    def __init__(self, reply=None, refuse=False):
        self.reply, self.refuse = reply, refuse

    def __getattr__(self, method):
        proxy = self

        class Method:
            def call_async(self, *args):
                if proxy.refuse:
                    raise LookupError("no such service")
                return proxy.reply
        return Method()


def test_a_slow_service_is_named_and_the_others_kept():
    answers, missing = gather({"fast": Proxy(Reply({"a": 1})), "slow": Proxy(Reply({}, delay=5))},
                              "subject_access", "case-1", timeout=0.2)
    assert answers == {"fast": {"a": 1}}
    assert missing == {"slow": "slow did not answer within 0.2 seconds"}


def test_an_absent_or_failing_service_is_named():
    answers, missing = gather({"gone": Proxy(refuse=True), "broken": Proxy(Reply(None, error=ValueError()))},
                              "audit_for_case", "case-1", timeout=1)
    assert answers == {}
    assert missing == {"gone": "gone did not answer (LookupError)", "broken": "broken failed to answer (ValueError)"}
