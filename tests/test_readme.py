"""The README's curl session, executed as a new user would paste it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.server import ThreadServer

README = Path(__file__).parent.parent / "README.md"


def curl_session() -> str:
    text = README.read_text()
    section = text.split("## A first session with curl", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "the README lost its curl session"
    return match.group(1)


def test_the_readme_curl_session_works(
    server: ThreadServer, account: tuple[str, str], tmp_path: Path
) -> None:
    sid, token = account
    (tmp_path / "opencomms.env").write_text(
        f"OPENCOMMS_ACCOUNT_SID={sid}\nOPENCOMMS_AUTH_TOKEN={token}\n"
    )

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", curl_session()],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "OPENCOMMS_URL": server.url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "operation comms_operation_" in result.stdout
    assert "'recipients': 3, 'total': 3" in result.stdout
    assert (
        "({'text': 'Hello Grace!'}, [('RCS', 'FAILED', 61337), ('WHATSAPP', 'FAILED', 63003), "
        "('SMS', 'DELIVERED', None)])"
    ) in result.stdout
