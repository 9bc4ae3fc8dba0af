"""byok-reporter: tell the BYOK notifier, from the app's backend, that a user's own key failed.

    from byok_reporter import Reporter
    reporter = Reporter(project_id, "byok-llm-errors", fingerprint_pepper=PEPPER)   # once
    reporter.report(uid, "openai", exc, key=user_key, base_url=client_base_url)    # where a call failed

See docs/publisher.md in the repository for what is sent, what is probed and what it costs.
"""
from .extract import extract_error
from .reporter import VERSION, Reporter, fingerprint_key

__version__ = VERSION
__all__ = ["Reporter", "extract_error", "fingerprint_key", "__version__"]
