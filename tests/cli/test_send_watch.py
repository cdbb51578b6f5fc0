"""`opencomms send` and `opencomms watch` for real, against a running server (both backends)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import httpx
import pytest

from tests.cli.helpers import OPERATION_ID, operation_ids, run, run_as
from tests.support.polling import all_messages, operation, wait_completed
from tests.support.server import ThreadServer

Account = tuple[str, str]
UNKNOWN_OPERATION = "comms_operation_01h2xcejqtf2nbrexx3vqjhp41"


@pytest.fixture(autouse=True)
def _no_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty directory, so no ./opencomms.env of the developer's is read."""
    monkeypatch.chdir(tmp_path)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def texts_by_address(api: httpx.Client, operation_id: str) -> dict[str, str]:
    """Each recipient's rendered text (`content` is on the fetched Message only)."""
    found = {}
    for message in all_messages(api, operationId=operation_id):
        fetched = api.get(f"/Messages/{message['id']}")
        assert fetched.status_code == 200, fetched.text
        found[message["to"][0]["address"]] = fetched.json()["content"]["text"]
    return found


def test_send_prints_only_the_operation_id_and_it_completes(
    server: ThreadServer, account: Account, api: httpx.Client
) -> None:
    result = run_as(
        server, account, ["send", "--to", "+14155550100", "--to", "+14155550101", "--text", "Hi"]
    )

    assert result.exit_code == 0, result.output
    assert re.fullmatch(OPERATION_ID + "\n", result.stdout)
    final = wait_completed(api, result.stdout.strip())
    assert final["stats"]["recipients"] == 2
    assert final["stats"]["total"] == 2


def test_to_file_variables_personalize_each_message(
    server: ThreadServer, account: Account, api: httpx.Client, tmp_path: Path
) -> None:
    recipients = write_csv(
        tmp_path / "recipients.csv",
        ["address", "name"],
        [["+14155550110", "Ada"], ["+14155550111", "Grace"], ["+14155550112", ""]],
    )

    result = run_as(
        server,
        account,
        ["send", "--to-file", str(recipients), "--text", "Hi {{name | default: 'there'}}"],
    )

    assert result.exit_code == 0, result.output
    (operation_id,) = operation_ids(result)
    wait_completed(api, operation_id)
    assert texts_by_address(api, operation_id) == {
        "+14155550110": "Hi Ada",
        "+14155550111": "Hi Grace",
        "+14155550112": "Hi there",
    }


def test_to_and_to_file_combine_and_email_rows_go_to_email(
    server: ThreadServer, account: Account, api: httpx.Client, tmp_path: Path
) -> None:
    recipients = write_csv(
        tmp_path / "recipients.csv",
        ["Address", "channel", "name"],
        [["ada@example.com", "", "Ada"], ["+14155550121", "phone", "Grace"]],
    )

    result = run_as(
        server,
        account,
        ["send", "--to", "+14155550120", "--to-file", str(recipients), "--text", "Hi {{name}}"],
    )

    assert result.exit_code == 0, result.output
    (operation_id,) = operation_ids(result)
    wait_completed(api, operation_id)
    messages = all_messages(api, operationId=operation_id)
    assert sorted((m["to"][0]["address"], m["to"][0]["channel"]) for m in messages) == [
        ("+14155550120", "PHONE"),
        ("+14155550121", "PHONE"),
        ("ada@example.com", "EMAIL"),
    ]


def test_tags_and_a_chosen_sender_are_sent(
    server: ThreadServer, account: Account, api: httpx.Client
) -> None:
    senders = api.get("/Senders").json()["senders"]
    sms = next(sender for sender in senders if sender["channel"] == "SMS")

    result = run_as(
        server,
        account,
        [
            *("send", "--to", "+14155550130", "--text", "Hi", "--from-sender", sms["id"]),
            *("--tag", "campaign=spring", "--tag", "batch=7"),
        ],
    )

    assert result.exit_code == 0, result.output
    (operation_id,) = operation_ids(result)
    wait_completed(api, operation_id)
    (message,) = all_messages(api, operationId=operation_id)
    assert message["tags"] == {"campaign": "spring", "batch": "7"}
    assert message["from"]["senderId"] == sms["id"]
    assert message["from"]["channel"] == "SMS"


def test_send_watch_exits_0_once_completed_and_prints_the_final_stats(
    server: ThreadServer, account: Account, api: httpx.Client
) -> None:
    result = run_as(
        server,
        account,
        ["send", "--to", "+14155550140", "--to", "+14155550141", "--text", "Hi", "--watch"],
    )

    assert result.exit_code == 0, result.output
    operation_id = re.search(OPERATION_ID, result.stdout)
    assert operation_id is not None
    assert operation(api, operation_id[0])["status"] == "COMPLETED"
    assert f"#1 {operation_id[0]} COMPLETED" in result.stdout
    assert "Final stats" in result.stdout
    assert re.search(r"recipients\s*│\s*2\b", result.stdout), result.stdout
    # the progress went to stderr, the final state with it
    assert "COMPLETED" in result.stderr
    assert "settled 2/2 (100%)" in result.stderr


def test_watch_follows_several_operations_to_the_end(
    server: ThreadServer, account: Account
) -> None:
    sent = [
        run_as(server, account, ["send", "--to", f"+1415555015{n}", "--text", "Hi"])
        for n in range(2)
    ]
    ids = [result.stdout.strip() for result in sent]

    result = run_as(server, account, ["watch", *ids])

    assert result.exit_code == 0, result.output
    assert f"#1 {ids[0]} COMPLETED" in result.stdout
    assert f"#2 {ids[1]} COMPLETED" in result.stdout
    assert re.search(r"recipients\s*│\s*1\s*│\s*1\s*│\s*2\b", result.stdout), result.stdout


def test_watch_of_an_unknown_operation_exits_1(server: ThreadServer, account: Account) -> None:
    result = run_as(server, account, ["watch", UNKNOWN_OPERATION])

    assert result.exit_code == 1
    assert "404" in result.stderr
    assert UNKNOWN_OPERATION in result.stderr
    assert result.stdout == ""


def test_a_bad_address_prints_the_error_field_and_exits_1(
    server: ThreadServer, account: Account
) -> None:
    result = run_as(
        server, account, ["send", "--to", "not-a-number", "--to", "+14155550160", "--text", "Hi"]
    )

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "HTTP 400" in result.stderr
    assert "  to[0].address: " in result.stderr
    assert "to[1]" not in result.stderr


def test_wrong_credentials_exit_1_with_the_servers_message(server: ThreadServer) -> None:
    result = run_as(server, ("AC" + "0" * 32, "0" * 32), ["watch", UNKNOWN_OPERATION])

    assert result.exit_code == 1
    assert "HTTP 401" in result.stderr


def test_missing_credentials_exit_2(server: ThreadServer) -> None:
    result = run(["send", "--to", "+14155550170", "--text", "Hi", "--url", server.url])

    assert result.exit_code == 2
    assert "no credentials" in result.stderr
    assert "OPENCOMMS_ACCOUNT_SID" in result.stderr


def test_credentials_come_from_the_environment(
    server: ThreadServer, account: Account, api: httpx.Client
) -> None:
    sid, token = account
    env = {"OPENCOMMS_URL": server.url, "OPENCOMMS_ACCOUNT_SID": sid, "OPENCOMMS_AUTH_TOKEN": token}

    result = run(["send", "--to", "+14155550171", "--text", "Hi"], env=env)

    assert result.exit_code == 0, result.output
    wait_completed(api, result.stdout.strip())


def test_credentials_come_from_opencomms_env_in_the_working_directory(
    server: ThreadServer, account: Account, api: httpx.Client, tmp_path: Path
) -> None:
    sid, token = account
    (tmp_path / "opencomms.env").write_text(
        f"# written by make serve\nOPENCOMMS_ACCOUNT_SID={sid}\nOPENCOMMS_AUTH_TOKEN={token}\n"
    )

    result = run(["send", "--to", "+14155550172", "--text", "Hi", "--url", server.url])

    assert result.exit_code == 0, result.output
    wait_completed(api, result.stdout.strip())


def test_an_unreachable_server_exits_1() -> None:
    result = run(
        [
            *("watch", UNKNOWN_OPERATION, "--url", "http://127.0.0.1:9"),
            *("--account-sid", "AC1", "--auth-token", "secret"),
        ]
    )

    assert result.exit_code == 1
    assert "no answer from http://127.0.0.1:9" in result.stderr


@pytest.mark.slow
def test_more_than_10000_recipients_are_split_into_operations(
    server: ThreadServer, account: Account, api: httpx.Client, tmp_path: Path
) -> None:
    rows = [[f"+1415{200 + n // 100}{100 + n % 100:04d}", str(n)] for n in range(10_001)]
    recipients = write_csv(tmp_path / "many.csv", ["address", "n"], rows)

    result = run_as(server, account, ["send", "--to-file", str(recipients), "--text", "Hi #{{n}}"])

    assert result.exit_code == 0, result.output
    ids = operation_ids(result)
    assert len(ids) == 2
    assert all(re.fullmatch(OPERATION_ID, operation_id) for operation_id in ids)
    assert "10,001 recipients, sent as 2 operations" in result.stderr
    finals = [wait_completed(api, operation_id, timeout=120) for operation_id in ids]
    assert [final["stats"]["recipients"] for final in finals] == [10_000, 1]
    assert sum(final["stats"]["total"] for final in finals) == 10_001
    (last,) = all_messages(api, operationId=ids[1])
    assert last["to"][0]["address"] == rows[-1][0]
