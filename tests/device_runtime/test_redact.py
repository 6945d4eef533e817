"""Device runtime: secrets kept out of text (URLs masked, known secrets scrubbed, the logging filter)."""

from __future__ import annotations

import logging

from device_runtime.redact import RedactingFilter, Redactor, redact_url, scrub_text, url_secrets


def test_redaction() -> None:
    assert redact_url("rtsp://admin:Pa55word@10.0.0.5:554/live") == "rtsp://***@10.0.0.5:554/live"
    assert (
        redact_url("http://10.0.0.6/cgi?user=a&password=xyz&ch=1")
        == "http://10.0.0.6/cgi?user=a&password=***&ch=1"
    )
    assert redact_url("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live"
    text = "could not open rtsp://admin:Pa55word@10.0.0.5/live?token=abc123 (timeout)"
    assert scrub_text(text) == "could not open rtsp://***@10.0.0.5/live?token=*** (timeout)"
    assert url_secrets("rtsp://admin:Pa%40ss@h/x?token=t0k3n&ch=1") == ["Pa@ss", "t0k3n"]
    assert url_secrets("rtsp://h/x") == []
    r = Redactor(["Pa55word", "ab"])  # too short to mask safely: left to the URL patterns
    assert r.scrub("password Pa55word in a sentence, ab") == "password *** in a sentence, ab"


def test_logging_filter_scrubs_messages_and_tracebacks() -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep()
    handler.addFilter(RedactingFilter(Redactor(["hunter22"])))
    logger = logging.getLogger("test_redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("opening %s", "rtsp://u:hunter22@h/x")
        try:
            raise ValueError("bad password hunter22")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    joined = "\n".join(records)
    assert "hunter22" not in joined
    assert "rtsp://***@h/x" in joined and "bad password ***" in joined
