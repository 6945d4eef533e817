"""Reports by e-mail: one message per address with the PDF and CSV attached, over SMTP with STARTTLS and login
when configured. The standard library's smtplib runs in a worker thread with the configured timeout; what the
server answers decides whether to try again later (4xx, network) or give up (5xx: bad address, refused)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from hub.core.facts import FileSent
from hub.scheduled_reports.config import SmtpConfig


def build_message(
    cfg: SmtpConfig, to: str, subject: str, body: str, files: list[tuple[str, bytes, str]]
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = cfg.from_addr
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=cfg.from_addr.rsplit("@", 1)[-1])
    msg.set_content(body)
    for name, data, ctype in files:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def _send(cfg: SmtpConfig, msg: EmailMessage) -> FileSent:
    assert cfg.host is not None
    try:
        with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s) as smtp:
            smtp.ehlo()
            if cfg.starttls:
                # the server's certificate and name are checked: the login and the reports must not go to whoever
                # answers on the mail server's address
                cafile = None if cfg.ca_file is None else str(cfg.ca_file)
                smtp.starttls(context=ssl.create_default_context(cafile=cafile))
                smtp.ehlo()
            if cfg.user is not None and cfg.password is not None:
                smtp.login(cfg.user, cfg.password.get_secret_value())
            refused = smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        return FileSent(False, False, f"máy chủ thư từ chối đăng nhập ({exc.smtp_code})")
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [c for c, _ in exc.recipients.values()]
        return FileSent(False, any(400 <= c < 500 for c in codes), f"địa chỉ nhận bị từ chối {codes}")
    except smtplib.SMTPResponseException as exc:
        return FileSent(False, 400 <= exc.smtp_code < 500, f"máy chủ thư trả lời {exc.smtp_code}")
    except (OSError, smtplib.SMTPException) as exc:  # refused, timeout, TLS, disconnected: try later
        return FileSent(False, True, f"lỗi kết nối máy chủ thư: {exc.__class__.__name__}: {exc}"[:300])
    if refused:
        return FileSent(False, False, f"địa chỉ nhận bị từ chối: {', '.join(refused)}")
    return FileSent(True, False, "", str(msg["Message-ID"]))


async def send_mail(cfg: SmtpConfig, msg: EmailMessage) -> FileSent:
    return await asyncio.to_thread(_send, cfg, msg)
