"""Camera points and camera details: the validation rules (pure) and the CSV columns that carry them, with
row-numbered errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.core import devices_import as di
from hub.core.camera_points import CameraDetails, PointFields, SpeakerLocation, problems_of, typed_position
from hub.core.devices_csv_fields import unescape

AREAS = {("yen-dinh", "quan-lao"), ("yen-dinh", "dinh-tan")}


def test_point_inside_vietnam_only() -> None:
    pt = PointFields(name="  Chợ   Quán Lào ", lat=19.98, lon=105.61, address="Ngã ba chợ")
    assert pt.name == "Chợ Quán Lào"
    for lat, lon in ((105.61, 19.98), (19.98, -105.61), (48.85, 2.35), (7.9, 105.0), (19.0, 118.0)):
        with pytest.raises(ValidationError) as err:
            PointFields(name="x", lat=lat, lon=lon)
        assert any(p.startswith(("lat:", "lon:")) for p in problems_of(err.value))
    # Trường Sa and Hoàng Sa are inside the box
    PointFields(name="Đảo", lat=8.65, lon=111.92)
    PointFields(name="Đảo", lat=16.5, lon=112.0)


def test_point_refuses_unknown_keys_and_control_characters() -> None:
    with pytest.raises(ValidationError) as err:
        PointFields.model_validate({"name": "x", "lat": 20, "lon": 105, "height": 4})
    assert problems_of(err.value) == ["height: Extra inputs are not permitted"]
    with pytest.raises(ValidationError):
        PointFields(name="a\x07b", lat=20, lon=105)


def test_camera_details_enums_and_phone() -> None:
    d = CameraDetails.model_validate(
        {"purpose": "traffic", "owner_kind": "household", "owner_name": "Hộ ông Lê Văn Nam",
         "maintainer_name": "Anh Tuấn", "maintainer_phone": "+84 912.345.678"}
    )  # fmt: skip
    assert d.purpose == "traffic" and d.maintainer_phone == "0912345678"
    assert CameraDetails(maintainer_phone="  ").maintainer_phone is None
    for bad in ({"purpose": "spying"}, {"owner_kind": "state"}, {"maintainer_phone": "12345"},
                {"maintainer_phone": "0912abc678"}, {"point": "Chợ"}, {"colour": "red"}):  # fmt: skip
        with pytest.raises(ValidationError):
            CameraDetails.model_validate(bad)


def test_speaker_location_both_or_neither() -> None:
    assert SpeakerLocation().lat is None
    assert SpeakerLocation(lat=19.9, lon=105.6).lon == 105.6
    with pytest.raises(ValidationError) as err:
        SpeakerLocation(lat=19.9)
    assert "cả vĩ độ" in problems_of(err.value)[0]


def test_export_escape_is_undone_on_import() -> None:
    assert unescape("'=HYPERLINK()") == "=HYPERLINK()" and unescape("'bình thường") == "'bình thường"


def test_points_csv_rows_and_their_errors_by_line() -> None:
    text = (
        "district,commune,id,name,lat,lon,address,village\n"
        "yen-dinh,quan-lao,cho,Chợ Quán Lào,19.9872,105.6114,Ngã ba chợ,\n"
        "yen-dinh,quan-lao,cong-ubnd,Cổng UBND,105.6,19.98,,\n"  # swapped
        "yen-dinh,quan-lao,ntv,Nhà văn hoá,19.99,105.62,,thon-1\n"
        "yen-dinh,dinh-tan,nga-tu,Ngã tư,abc,105.6,,\n"
    )
    parsed = di.parse_devices("points", text, AREAS, {("yen-dinh", "quan-lao", "thon-1")})
    assert [r.slug for r in parsed.rows] == ["cho", "ntv"]
    assert parsed.rows[0].extra == {"lat": 19.9872, "lon": 105.6114, "address": "Ngã ba chợ", "village": None}
    assert [e.line for e in parsed.errors] == [3, 5]
    assert "lat:" in parsed.errors[0].message and "lon:" in parsed.errors[0].message
    assert "lat:" in parsed.errors[1].message


def test_camera_csv_detail_columns_are_checked_per_row() -> None:
    text = (
        "district,commune,id,name,point,purpose,owner_kind,owner_name,maintainer_phone\n"
        "yen-dinh,quan-lao,cho-1,Chợ 1,cho,security,commune,,0912345678\n"
        "yen-dinh,quan-lao,cho-2,Chợ 2,khong-co,traffic,,,\n"
        "yen-dinh,quan-lao,cho-3,Chợ 3,,giám sát,,,\n"
        "yen-dinh,quan-lao,cho-4,Chợ 4,,,business,Cửa hàng Minh,số cũ\n"
        "yen-dinh,quan-lao,cho-5,Chợ 5,,,,,\n"
    )
    parsed = di.parse_devices("cameras", text, AREAS, points={("yen-dinh", "quan-lao", "cho")})
    assert [r.slug for r in parsed.rows] == ["cho-1", "cho-5"]
    assert parsed.rows[0].extra["purpose"] == "security" and parsed.rows[0].extra["point"] == "cho"
    # a column the header has, with an empty cell, clears the field; a column it lacks is not there at all
    assert parsed.rows[1].extra == dict.fromkeys(
        ("point", "purpose", "owner_kind", "owner_name", "maintainer_phone")
    )
    errors = {e.line: e.message for e in parsed.errors}
    assert set(errors) == {3, 4, 5}
    assert "khong-co" in errors[3] and "purpose" in errors[4] and "maintainer_phone" in errors[5]


def test_speaker_csv_position_columns() -> None:
    text = "district,commune,id,name,lat,lon\nyen-dinh,quan-lao,loa-1,Loa 1,19.98,105.61\nyen-dinh,quan-lao,loa-2,Loa 2,19.98,\n"
    parsed = di.parse_devices("speakers", text, AREAS)
    assert parsed.rows[0].extra == {"lat": 19.98, "lon": 105.61}
    assert [e.line for e in parsed.errors] == [3]


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        ("19.9872", "105.6114", ("19.9872", "105.6114")),
        ("19,9872", "105,6114", ("19.9872", "105.6114")),  # decimal commas
        ("19.9872, 105.6114", None, ("19.9872", "105.6114")),  # a pair pasted from a phone's map
        ("19,9872; 105,6114", None, ("19.9872", "105.6114")),
        ("19.9872 105.6114", "", ("19.9872", "105.6114")),
        ("abc", None, ("abc", None)),  # left for the model to refuse, naming the field
        (None, None, (None, None)),
    ],
)
def test_positions_as_people_type_them(
    lat: str | None, lon: str | None, expected: tuple[str | None, ...]
) -> None:
    assert typed_position(lat, lon) == expected
