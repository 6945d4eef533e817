"""The `scheduled_reports:` section: unknown keys and bad values are refused with the key named; the SMTP
password never shows when the config is printed; unset environment values mean "no receiver"."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.scheduled_reports.config import ScheduledReportsConfig


def test_bad_values_are_refused_naming_the_key() -> None:
    cases = {
        "recipients.0.emails": {"recipients": [{"area": "", "emails": ["không-phải-thư"]}]},
        "recipients.0.area": {"recipients": [{"area": "Yên Định/Định Long"}]},
        "recipients.0.zalo_group": {"recipients": [{"area": "", "zalo_group": ["g"]}]},
        "at": {"at": "7h"},
        "kinds.0": {"kinds": ["daily"]},
        "smtp": {"smtp": {"host": "mail.example", "user": "baocao"}},
    }
    for key, data in cases.items():
        with pytest.raises(ValidationError) as exc:
            ScheduledReportsConfig.model_validate(data)
        assert key in str(exc.value), key


def test_the_password_is_never_printed_and_unset_environment_values_are_no_receivers() -> None:
    cfg = ScheduledReportsConfig.model_validate(
        {
            "smtp": {"host": "mail.example", "user": "baocao", "password": "bi-mat-123"},
            "recipients": [
                {"area": "yen_dinh/dinh_long", "zalo_groups": [""], "emails": ["", "a@b.example"]}
            ],
        }
    )
    assert "bi-mat-123" not in repr(cfg) and "bi-mat-123" not in cfg.model_dump_json()
    assert cfg.smtp.password is not None and cfg.smtp.password.get_secret_value() == "bi-mat-123"
    (r,) = cfg.recipients_of("yen_dinh", "dinh_long")
    assert (r.zalo_groups, r.emails) == ([], ["a@b.example"])
    assert cfg.recipients_of("yen_dinh", "") == [] and cfg.recipients_of("", "") == []
    assert ScheduledReportsConfig.model_validate({"smtp": {"password": ""}}).smtp.password is None
