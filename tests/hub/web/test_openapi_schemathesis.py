"""The API document and the code agree (issue 12): schemathesis, with every check, against the real hub.

A real `Hub` (Mosquitto, InfluxDB, the alert engine, the notifier, the broadcast scheduler) serves its web app
on a free port over a seeded SQLite database (tests/hub/web/live_hub_support.py), with an admin API token.
schemathesis reads `/api/v1/openapi.json` and, for every operation, sends the document's examples, its
coverage cases (each boundary, each missing or malformed parameter) and generated requests, valid and
invalid, then a stateful run that chains operations through the data they return. Every response must pass
every check: no server error; only documented statuses, media types, headers and bodies; what the document
forbids is refused, what it allows is not refused as malformed; resources created can be read back and are
gone once deleted; nothing answers without credentials.

Configured: a bounded number of examples and stateful steps and a fixed seed, so the run is the same every
time and takes well under a minute; 422 ("matches the document, refused on meaning") counts as an answer to
valid data, because the document cannot say that an end comes after its start or that a content id exists.
Not enabled: `max_response_time`, a timing assertion (the project keeps timings in bench/).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig

from devtools.services import Service, influx_create_db, start_mosquitto
from hub.compose import FEATURES
from hub.core.config import HttpConfig
from hub.core.openapi import build_document
from hub.web.api.misc import API_VERSION
from hub.web.app import api_routes
from tests.hub.web.live_hub_support import LiveHub

SEED = 20261207
MAX_EXAMPLES = 6  # per operation and phase; the coverage phase adds each boundary case on top
STATEFUL_SCENARIOS = 8
STATEFUL_STEPS = 6
REQUEST_TIMEOUT_S = 60  # text-to-speech runs espeak-ng and two ffmpeg passes on a loaded 2-core machine
# The HTTP meaning of a well-formed request refused for what it means (hub/core/openapi.py): an answer.
ACCEPTED_FOR_VALID_DATA = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
PUBLIC_URL = HttpConfig().public_url


def the_document() -> dict[str, Any]:
    """What /api/v1/openapi.json serves, built from the same route table the app registers; the live hub's
    own answer is compared with it below. (schemathesis' fixture-loaded schemas do not run on pytest 9.2.)"""
    return build_document(api_routes(FEATURES), PUBLIC_URL, API_VERSION)


schema = schemathesis.openapi.from_dict(
    the_document(),
    config=SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "request-timeout": REQUEST_TIMEOUT_S,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_FOR_VALID_DATA}},
        }
    ),
)


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory, influxd: Service) -> Iterator[LiveHub]:
    work: Path = tmp_path_factory.mktemp("live-hub")
    broker = start_mosquitto(work / "mosquitto")
    influx_create_db(influxd.port, "schemathesis")
    hub = LiveHub(work, broker.port, influxd.url, "schemathesis")
    try:
        hub.start()
        yield hub
    finally:
        hub.stop()
        broker.stop()


EVERY_CHECK = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "use_after_free",
    "ensure_resource_availability",
    "missing_required_header",
    "ignored_auth",
    "object_level_authorization",
    "unsupported_method",
    "allow_header_conformance",
)


def test_every_check_is_on() -> None:
    """What the installed schemathesis offers as `--checks all`, but the timing check (see above)."""
    operation = next(iter(schema.get_all_operations())).ok()
    for phase in ("examples", "coverage", "fuzzing", "stateful"):
        config = schema.config.checks_config_for(operation=operation, phase=phase)
        assert [name for name in EVERY_CHECK if not getattr(config, name).enabled] == [], phase
    assert not config.max_response_time.enabled


def test_the_live_hub_serves_this_document(live_hub: LiveHub) -> None:
    served = requests.get(live_hub.url + "/api/v1/openapi.json", headers=live_hub.headers, timeout=30)
    assert served.status_code == 200
    assert served.json() == the_document()


@schema.parametrize()
def test_every_operation_agrees_with_the_document(case: Any, live_hub: LiveHub) -> None:
    case.call_and_validate(base_url=live_hub.url, headers=live_hub.headers)


def test_workflows_across_operations_agree_with_the_document(live_hub: LiveHub) -> None:
    """Chains of calls linked by what they return (create, then read, change, delete, read again): the
    stateful checks (use after free, resource availability) need them."""

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": live_hub.url, "headers": live_hub.headers}

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
