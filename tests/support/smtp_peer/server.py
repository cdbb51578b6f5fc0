"""aiosmtpd's SMTP session with the DSN extension (RFC 3461) a real relay offers:
EHLO announces DSN and ENHANCEDSTATUSCODES, MAIL FROM takes RET= and ENVID=, RCPT TO
takes NOTIFY= and ORCPT= (aiosmtpd alone refuses any parameter with 555)."""

from __future__ import annotations

import re
from typing import Any

from aiosmtpd.smtp import SMTP

__all__ = ["DsnSmtp"]

_MAIL_PARAMS = re.compile(r"\s+(RET|ENVID)=(\S+)", re.IGNORECASE)
_RCPT_PARAMS = re.compile(r"\s+(NOTIFY|ORCPT)=(\S+)", re.IGNORECASE)
_NOTIFY = re.compile(r"NEVER|(?:SUCCESS|FAILURE|DELAY)(?:,(?:SUCCESS|FAILURE|DELAY))*\Z")


class DsnSmtp(SMTP):
    """One client's session; `dsn_mail`/`dsn_rcpt` hold the DSN parameters of the
    transaction in progress (RET, ENVID; NOTIFY, ORCPT)."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.dsn_mail: dict[str, str] = {}
        self.dsn_rcpt: dict[str, str] = {}

    async def smtp_MAIL(self, arg: str | None) -> None:
        params = dict((k.upper(), v) for k, v in _MAIL_PARAMS.findall(arg or ""))
        if params.get("RET", "HDRS").upper() not in ("HDRS", "FULL"):
            await self.push("501 5.5.4 RET must be FULL or HDRS")
            return
        self.dsn_mail, self.dsn_rcpt = params, {}
        await super().smtp_MAIL(_MAIL_PARAMS.sub("", arg) if arg else arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        params = dict((k.upper(), v) for k, v in _RCPT_PARAMS.findall(arg or ""))
        if "NOTIFY" in params and not _NOTIFY.match(params["NOTIFY"].upper()):
            await self.push("501 5.5.4 NOTIFY is NEVER or a list of SUCCESS, FAILURE, DELAY")
            return
        self.dsn_rcpt = params
        await super().smtp_RCPT(_RCPT_PARAMS.sub("", arg) if arg else arg)
