"""What is kept and what is shown: Zalo tokens encrypted at rest, device words cleaned before pages and
messages, every CSV cell safe in a spreadsheet, and the content queue that an emergency jumps."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from broadcast.content.jobs import JobQueue, QueueFull
from hub.compose import open_database
from hub.core.csvsafe import csv_bytes
from hub.core.text import clean_text
from hub.notify.config import OaConfig
from hub.notify.models import ChannelToken
from hub.notify.sealed import MARK, Sealer
from hub.notify.tokens import TokenStore


async def test_zalo_tokens_are_encrypted_at_rest_and_old_rows_migrate(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'hub.db'}")
    db.create_all()
    with db.session() as s, s.begin():  # a row written before the key existed
        s.add(ChannelToken(channel="oa", generation=1, refresh_token="rt-cu-ro-rang", access_token="at-cu"))
    sealer = Sealer(Fernet.generate_key())
    store = TokenStore(db, OaConfig(), lambda: 1.8e9, sealer)
    await store.load()
    assert (store.refresh_token, store.access) == ("rt-cu-ro-rang", "at-cu")  # read as it was
    with db.session() as s:
        row = s.get(ChannelToken, "oa")
        assert row is not None and row.refresh_token is not None and row.access_token is not None
        assert row.refresh_token.startswith(MARK) and "rt-cu-ro-rang" not in row.refresh_token  # sealed now
        assert row.access_token.startswith(MARK)
    await store.replace("rt-moi-ro-rang")
    with db.session() as s:
        row = s.get(ChannelToken, "oa")
        assert row is not None and row.refresh_token is not None
        assert (
            "rt-moi-ro-rang" not in row.refresh_token and sealer.open(row.refresh_token) == "rt-moi-ro-rang"
        )
    # Without the key (or with another) the sealed token is not usable: no token rather than garbage.
    other = TokenStore(db, OaConfig(), lambda: 1.8e9, Sealer(None))
    await other.load()
    assert other.refresh_token is None
    db.close()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Cổng UBND\u202e moc.knab", "Cổng UBND moc.knab"),  # bidi override
        ("Loa\x1b[31m đỏ\x07", "Loa[31m đỏ"),  # terminal escapes and bell
        ("Chợ\u200b\u2066 Định\u2069 Tân\n\nthôn 3", "Chợ Định Tân thôn 3"),  # zero-width, isolates, newlines
        ("Nha\u0300 va\u0306n ho\u0301a", "Nhà văn hóa"),  # composed, as typed in Vietnamese
        ("\u202e\u200b", None),
    ],
)
def test_device_words_are_cleaned(raw: str, shown: str | None) -> None:
    assert clean_text(raw) == shown


def test_text_is_capped() -> None:
    assert clean_text("a" * 500, 200) == "a" * 200


def test_every_csv_cell_is_safe_in_a_spreadsheet() -> None:
    rows = [["tên", "ghi chú"], ['=HYPERLINK("http://evil")', "+1"], ["@SUM(A1)", "-2+3"], ["\tx", 5]]
    text = csv_bytes(rows).decode("utf-8-sig")
    read = list(csv.reader(io.StringIO(text)))
    assert read[1] == ['\'=HYPERLINK("http://evil")', "'+1"]
    assert read[2] == ["'@SUM(A1)", "'-2+3"] and read[3] == ["'\tx", "5"]


async def test_emergencies_go_first_and_nobody_fills_the_queue() -> None:
    q = JobQueue(slots=1, per_user=2)
    order: list[str] = []
    gate = asyncio.Event()

    async def job(user: str, name: str, urgent: bool = False) -> None:
        async with q.slot(user, urgent):
            order.append(name)
            await gate.wait()

    first = asyncio.create_task(job("vanhoa", "first"))
    await asyncio.sleep(0)
    normal = asyncio.create_task(job("vanhoa", "normal"))
    await asyncio.sleep(0)
    with pytest.raises(QueueFull):  # a third of vanhoa's own: refused at once
        async with q.slot("vanhoa"):
            pass
    flood = asyncio.create_task(job("chutich", "flood", urgent=True))
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(first, normal, flood)
    assert order == ["first", "flood", "normal"] and q.urgent_first == 1
    assert q.running == 0 and not q.by_user


def test_the_hubs_signing_key_is_made_once_private_and_never_shown(tmp_path: Path) -> None:
    import os

    from hub.core.config import CoreConfig
    from hub.core.order_signing import OrderSigner, SigningKeyError, load_or_create_key

    cfg = CoreConfig(data_dir=tmp_path / "hub")
    key = load_or_create_key(cfg)
    pem = tmp_path / "hub" / "keys" / "orders_ed25519.pem"
    assert os.stat(pem).st_mode & 0o777 == 0o600
    pub = (tmp_path / "hub" / "keys" / "orders_ed25519.pub").read_text()
    assert pub.startswith("-----BEGIN PUBLIC KEY-----")
    again = load_or_create_key(cfg)  # the next start uses the same key
    assert again.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    signer = OrderSigner(key, 300)
    assert "PRIVATE" not in repr(signer) and signer.next_seq() < signer.next_seq()
    missing = CoreConfig(data_dir=tmp_path / "x", orders={"private_key": tmp_path / "nope.pem"})
    with pytest.raises(SigningKeyError):  # a configured key is never made up in its place
        load_or_create_key(missing)
