"""The demo's map: camera points around Yên Định (Thanh Hóa) holding the simulated cameras, each camera's
purpose, owner and maintainer, and a position for each loudspeaker, entered the way an administrator would (CSV
import through the API). The positions are made up for the demo (near the communes, not surveyed)."""

from __future__ import annotations

from typing import Protocol

DISTRICT = "yen_dinh"

# (commune, point, name, lat, lon, address)
POINTS = [
    ("dinh_long", "ubnd-dl", "UBND xã Định Long", 19.9905, 105.6010, "Trụ sở UBND xã"),
    ("dinh_long", "cho-dl", "Chợ Định Long", 19.9878, 105.6042, "Ngã ba chợ"),
    ("dinh_long", "truong-dl", "Trường THCS Định Long", 19.9931, 105.5968, "Thôn 2"),
    ("dinh_long", "cau-kenh-dl", "Cầu kênh Bắc", 19.9992, 105.6105, "Đầu cầu kênh Bắc"),
    ("dinh_tan", "ubnd-dt", "UBND xã Định Tân", 20.0310, 105.6580, "Trụ sở UBND xã"),
    ("dinh_tan", "nga-tu-dt", "Ngã tư Quốc lộ 45", 20.0275, 105.6632, "Quốc lộ 45"),
    ("dinh_tan", "ben-do-dt", "Bến đò sông Mã", 20.0402, 105.6511, "Bến đò thôn 1"),
]
# (commune, camera, its name in config/demo/edge.yaml, point, purpose, owner_kind, owner_name, maintainer, phone)
CAMERAS = [
    ("dinh_long", "cong-ubnd-dl", "Cổng UBND xã", "ubnd-dl", "security", "commune", "", "Anh Lê Văn Hùng", "0912000101"),
    ("dinh_long", "tram-y-te-dl", "Trạm y tế xã", "ubnd-dl", "security", "commune", "", "Anh Lê Văn Hùng", "0912000101"),
    ("dinh_long", "nga-ba-cho-dl", "Ngã ba chợ", "cho-dl", "traffic", "household", "Hộ bà Nguyễn Thị Hoa", "Anh Trịnh Minh", "0987000202"),
    ("dinh_long", "truong-thcs-dl", "Trường THCS", "truong-dl", "security", "business", "Cửa hàng Minh Phát", "Anh Trịnh Minh", "0987000202"),
    ("dinh_long", "cau-kenh-dl", "Cầu kênh Bắc", "cau-kenh-dl", "traffic", "commune", "", "Anh Lê Văn Hùng", "0912000101"),
    ("dinh_tan", "cong-ubnd-dt", "Cổng UBND xã", "ubnd-dt", "security", "commune", "", "Chị Phạm Thu", "0934000303"),
    ("dinh_tan", "nha-van-hoa-dt", "Nhà văn hoá thôn 1", "ubnd-dt", "security", "household", "Các hộ thôn 1", "Chị Phạm Thu", "0934000303"),
    ("dinh_tan", "nga-tu-ql45-dt", "Ngã tư Quốc lộ 45", "nga-tu-dt", "traffic", "commune", "", "Chị Phạm Thu", "0934000303"),
    ("dinh_tan", "ben-do-dt", "Bến đò sông Mã", "ben-do-dt", "other", "business", "HTX đò Định Tân", "Chị Phạm Thu", "0934000303"),
]  # fmt: skip
# speaker id → (lat, lon)
SPEAKER_POSITIONS = {
    "loa-cho-dl": (19.9884, 105.6031),
    "loa-thon-3-dl": (19.9951, 105.5925),
    "loa-ubnd-dt": (20.0318, 105.6571),
    "loa-truong-dt": (20.0352, 105.6625),
}


class CsvApi(Protocol):
    def call(self, method: str, path: str, *, csv: str) -> object: ...


def points_csv() -> str:
    rows = "".join(f"{DISTRICT},{c},{p},{n},{la},{lo},{a}\n" for c, p, n, la, lo, a in POINTS)
    return "district,commune,id,name,lat,lon,address\n" + rows


def cameras_csv() -> str:
    head = "district,commune,id,name,point,purpose,owner_kind,owner_name,maintainer_name,maintainer_phone\n"
    return head + "".join(f"{DISTRICT},{','.join(row)}\n" for row in CAMERAS)


def place_on_map(api: CsvApi) -> None:
    """Points first (the cameras name them); the cameras keep whatever agent reports them (no agent column)."""
    api.call("POST", "/api/v1/devices/import?kind=points&dry_run=false", csv=points_csv())
    api.call("POST", "/api/v1/devices/import?kind=cameras&dry_run=false", csv=cameras_csv())
