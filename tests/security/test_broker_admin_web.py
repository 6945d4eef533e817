"""Broker accounts through the admin pages and the JSON API, against the secured broker: a new device's file
and QR code shown once, the account on the device's page, revoke from the page, pending devices listed."""

from __future__ import annotations

import html
import re

import pytest

from contract import provisioning
from hub.compose import HubConfig
from tests.broker_support import SecureBroker, connect
from tests.fixtures_web import WebEnv, sign_in


@pytest.fixture
def web_config(secure_broker: SecureBroker) -> HubConfig:
    cfg = secure_broker.config
    assert isinstance(cfg, HubConfig)
    return cfg


async def admin(web: WebEnv) -> str:
    web.add_area("yen_dinh", "dinh_long", "Định Long")
    web.add_user("quantri", "admin")
    sign_in(web, "quantri")
    return await web.page_csrf("/admin/accounts")


async def test_a_new_device_gets_its_file_once_and_revoke_disconnects_it(
    web: WebEnv, secure_broker: SecureBroker
) -> None:
    csrf = await admin(web)
    form = {"csrf": csrf, "kind": "edge", "area": "yen_dinh/dinh_long", "id": "box7", "communes": "dinh_tan"}
    r = await web.client.post("/admin/accounts", data=form)
    page = await r.text()
    assert r.status == 200, page
    assert r.headers["Cache-Control"] == "no-store"
    assert (
        'src="data:image/png;base64,' in page
        and 'download="edge.yen_dinh.dinh_long.box7.provisioning.yaml"' in page
    )
    text = html.unescape(re.search(r'<pre id="provisioning-text">(.*?)</pre>', page, re.S).group(1))  # type: ignore[union-attr]
    p = provisioning.parse(text)
    assert p.device.id == "box7" and p.mqtt.tls_ca_pem and p.hub_public_key is None
    box = connect(secure_broker, p)
    assert box.up
    assert box.publish("ops/v1/yen_dinh/dinh_tan/camera/c1/health") != 135  # the extra commune it serves

    device = await (await web.client.get("/admin/devices/agents/yen_dinh/dinh_long/box7")).text()
    assert "edge.yen_dinh.dinh_long.box7" in device and "đang hoạt động" in device
    assert p.mqtt.password not in device, "the password is shown once, not on the device's page"
    r = await web.client.post(
        "/admin/devices/agents/yen_dinh/dinh_long/box7/account/revoke",
        data={"csrf": csrf},
        allow_redirects=False,
    )
    assert r.status == 303
    assert box.ended.wait(5), "revoked from the page, the box is still connected"
    listing = await (await web.client.get("/admin/accounts")).text()
    assert "yen_dinh/dinh_long/box7" in listing.split('id="pending"')[1].split("</table>")[0]
    # The audit log has all of it, never the password.
    audit = await (await web.client.get("/admin/audit?target=edge:")).text()
    assert "broker_account.create" in audit and "broker_account.revoke" in audit
    assert p.mqtt.password not in audit
    box.stop()


async def test_the_api_gives_rotates_and_revokes(web: WebEnv, secure_broker: SecureBroker) -> None:
    csrf = await admin(web)
    headers = {"X-CSRF-Token": csrf}
    body = {"kind": "speaker", "district": "yen_dinh", "commune": "dinh_long", "id": "loa2", "name": "Loa 2"}
    r = await web.client.post("/api/v1/devices/accounts", json=body, headers=headers)
    first = await r.json()
    assert r.status == 201, first
    assert first["qr_svg"].startswith("<svg") and first["client_id"] == "speaker.yen_dinh.dinh_long.loa2"
    again = await web.client.post("/api/v1/devices/accounts", json=body, headers=headers)
    assert again.status == 409
    bad = await web.client.post("/api/v1/devices/accounts", json={**body, "extra": 1}, headers=headers)
    assert bad.status == 400 and "extra" in (await bad.json())["error"]["message"]
    old = provisioning.parse(first["provisioning"])
    rx = connect(secure_broker, old)
    assert rx.up
    r = await web.client.post(
        "/api/v1/devices/accounts/speaker/yen_dinh/dinh_long/loa2/rotate", headers=headers
    )
    new = provisioning.parse((await r.json())["provisioning"])
    assert rx.ended.wait(5)
    assert connect(secure_broker, old).refused == "Not authorized"
    assert connect(secure_broker, new).up
    listing = await (await web.client.get("/api/v1/devices/accounts")).json()
    assert [a["state"] for a in listing["accounts"] if a["device"] == "yen_dinh/dinh_long/loa2"] == ["active"]
    r = await web.client.post(
        "/api/v1/devices/accounts/speaker/yen_dinh/dinh_long/loa2/revoke", headers=headers
    )
    assert (await r.json())["state"] == "revoked"
    listing = await (await web.client.get("/api/v1/devices/accounts")).json()
    assert {"kind": "speaker", "device": "yen_dinh/dinh_long/loa2"} in listing["pending"]
    rx.stop()
