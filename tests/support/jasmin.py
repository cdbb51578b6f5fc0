"""A real SMPP chain on 127.0.0.1: Jasmin 0.11.0 in front of the Net::SMPP example SMSC.

    our ESME ──SMPP──▶ jasmind (SMPP server, HTTP API, jCli) ──SMPP──▶ smsc.pl (Net::SMPP)
                           │  Redis 127.0.0.1:6379, RabbitMQ 127.0.0.1:5672 (a vhost per run)

`jasmin_chain()` starts both, configures Jasmin through jCli and yields a `JasminPeer`
with the endpoints; on exit it kills both process groups and removes everything it made.
`.ci/peers.sh` installs the pieces (Debian `libnet-smpp-perl`; Jasmin in its own venv,
`OPENCOMMS_JASMIN_VENV`, by default `/opt/opencomms-peers/jasmin-0.11.0`); Redis and
RabbitMQ are the machine's own (ecosystem.md 4.1).

Receipts. The SMSC is the example that ships with Net::SMPP (`examples/smsc.pl`, read from
the installed docs, gzipped or not), run from a copy patched in five small places:

1. it listens on a free port instead of the hard-coded 9900 (so runs never collide);
2. it answers each `submit_sm` with a unique message id instead of the fixed `123456789`
   (Jasmin maps the SMSC's id back to its own, so a shared id would mismatch receipts);
3. when the `submit_sm` asks for a receipt (`registered_delivery`), it sends right after
   the `submit_sm_resp` a terminal receipt `deliver_sm` (esm_class 0x04, the usual
   `id:… stat:DELIVRD err:000` text, `receipted_message_id` and `message_state` TLVs);
   the final status is `receipt_status` (DELIVRD by default, UNDELIV…, or None for none),
   but UNDELIV for a destination ending in `UNDELIVERED_SUFFIX` (0666);
4. it answers `deliver_sm_resp` with nothing (the original has no handler and dies);
5. it logs every `submit_sm` as one line (`SmscSubmit`), so a test can count what
   reached the SMSC and catch a duplicate, and drops its per-PDU debug output.

Jasmin turns the SMSC's receipt into its own `deliver_sm` receipt for our ESME, keyed by
the message id Jasmin gave in its `submit_sm_resp`. With `accepted_receipts=True`, Jasmin
also sends an intermediate `stat:ACCEPTD` receipt as soon as the SMSC answers the submit
(`[dlr] smpp_receipt_on_success_submit_sm_resp`): the only receipt the unpatched SMSC
chain can produce. Both are on by default, so a message sees ACCEPTD then DELIVRD.

Ports: every listener (SMSC, Jasmin's SMPP server, HTTP API, jCli, its three
Perspective Broker services) gets a free port, and jasmind's single-instance lock (the
fixed path /tmp/jasmind) is moved into the run's directory, so chains can run side by
side. Jasmin's queues live in a RabbitMQ vhost
made for the run and deleted after it; Redis keys are unique per run (Jasmin's message
ids are UUIDs, the SMSC's ids carry a random prefix).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "JASMIN_VERSION",
    "UNDELIVERED_SUFFIX",
    "JasminError",
    "JasminPeer",
    "SmscSubmit",
    "jasmin_chain",
    "missing_peers",
]

JASMIN_VERSION = "0.11.0"
DEFAULT_VENV = Path(f"/opt/opencomms-peers/jasmin-{JASMIN_VERSION}")
SMSC_EXAMPLES = Path("/usr/share/doc/libnet-smpp-perl/examples")
SYSTEM_ID, PASSWORD = "opencomms", "secret12"  # Jasmin caps passwords at 8 characters
UPSTREAM = "upstream"
UNDELIVERED_SUFFIX = "0666"  # destinations ending so get an UNDELIV receipt (err:001)


class JasminError(RuntimeError):
    """The chain did not come up; the message ends with the logs' tails."""


@dataclass(frozen=True)
class SmscSubmit:
    """One `submit_sm` as the SMSC logged it."""

    message_id: str
    source: str
    destination: str
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes


@dataclass(frozen=True)
class JasminPeer:
    smpp_host: str
    smpp_port: int
    system_id: str
    password: str
    http_url: str  # Jasmin's HTTP API: GET/POST {http_url}/send?username=…&password=…
    http_username: str
    http_password: str
    jcli_port: int
    smsc_port: int
    root: Path = field(repr=False)
    smsc_log: Path = field(repr=False)

    def smsc_submits(self) -> list[SmscSubmit]:
        """Every `submit_sm` the SMSC has answered so far, in order."""
        if not self.smsc_log.exists():
            return []
        submits = []
        for line in self.smsc_log.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) != 7:  # a line still being written
                continue
            message_id, source, destination, esm, coding, registered, text = parts
            numbers = int(esm), int(coding), int(registered)
            submits.append(
                SmscSubmit(message_id, source, destination, *numbers, bytes.fromhex(text))
            )
        return submits

    def smsc_count(self) -> int:
        """How many `submit_sm` the SMSC has answered so far (cheaper than the list)."""
        return self.smsc_log.read_bytes().count(b"\n") if self.smsc_log.exists() else 0

    def jcli(self, *commands: str) -> str:
        """Run jCli commands (each answered before the next), return what they printed."""
        with _JCli(self.jcli_port) as cli:
            return "".join(cli.run(command) for command in commands)


def jasmin_venv() -> Path:
    return Path(os.environ.get("OPENCOMMS_JASMIN_VENV") or DEFAULT_VENV)


def missing_peers() -> str | None:
    """Why the chain cannot start here (None when everything is installed)."""
    venv = jasmin_venv()
    if not (venv / "bin" / "jasmind.py").exists():
        return f"Jasmin {JASMIN_VERSION} is not installed in {venv} (run .ci/peers.sh)"
    if _smsc_source() is None:
        return "the Net::SMPP example SMSC is missing (apt-get install libnet-smpp-perl)"
    for name in ("redis-cli", "rabbitmqctl", "perl"):
        if shutil.which(name) is None:
            return f"{name} is not installed (run .ci/peers.sh)"
    for port, service in ((6379, "Redis"), (5672, "RabbitMQ")):
        if not _port_open(port):
            return f"{service} is not listening on 127.0.0.1:{port} (run .ci/peers.sh)"
    return None


@contextlib.contextmanager
def jasmin_chain(
    directory: Path | None = None,
    *,
    receipt_status: str | None = "DELIVRD",
    accepted_receipts: bool = True,
    timeout: float = 60,
) -> Iterator[JasminPeer]:
    """Start the SMSC and Jasmin, configure Jasmin, yield the endpoints, then tear down."""
    reason = missing_peers()
    if reason:
        raise JasminError(reason)
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jasmin-")))
        directory.mkdir(parents=True, exist_ok=True)
        chain = _Chain(directory, receipt_status, accepted_receipts, timeout)
        stack.callback(chain.stop)
        try:
            peer = chain.start()
        except (JasminError, OSError, subprocess.SubprocessError) as error:
            raise JasminError(f"{error}\n{chain.logs()}") from error
        yield peer


class _Chain:
    def __init__(
        self, root: Path, receipt_status: str | None, accepted_receipts: bool, timeout: float
    ) -> None:
        self.root = root
        self.receipt_status = receipt_status
        self.accepted_receipts = accepted_receipts
        self.timeout = timeout
        self.vhost = f"opencomms-{secrets.token_hex(4)}"
        self.vhost_made = False
        self.processes: list[subprocess.Popen[bytes]] = []
        self.ports = {
            name: free_port()
            for name in ("smsc", "smpp", "http", "jcli", "router", "smppcm", "smpps_pb")
        }
        self.smsc_log = root / "smsc-submits.tsv"
        self.smsc_out = root / "smsc.log"
        self.jasmind_out = root / "jasmind.log"

    def start(self) -> JasminPeer:
        deadline = time.monotonic() + self.timeout
        self._start_smsc(deadline)
        self._make_vhost()
        self._start_jasmind(deadline)
        peer = JasminPeer(
            smpp_host="127.0.0.1",
            smpp_port=self.ports["smpp"],
            system_id=SYSTEM_ID,
            password=PASSWORD,
            http_url=f"http://127.0.0.1:{self.ports['http']}",
            http_username=SYSTEM_ID,
            http_password=PASSWORD,
            jcli_port=self.ports["jcli"],
            smsc_port=self.ports["smsc"],
            root=self.root,
            smsc_log=self.smsc_log,
        )
        self._configure(deadline)
        return peer

    # -- the SMSC ---------------------------------------------------------------------

    def _start_smsc(self, deadline: float) -> None:
        source = _smsc_source()
        assert source is not None
        text = source.read_bytes()
        if source.suffix == ".gz":
            text = gzip.decompress(text)
        script = self.root / "smsc.pl"
        script.write_text(patch_smsc(text.decode()))
        env = {
            **os.environ,
            "OPENCOMMS_SMSC_PORT": str(self.ports["smsc"]),
            "OPENCOMMS_SMSC_LOG": str(self.smsc_log),
            "OPENCOMMS_SMSC_RECEIPT": self.receipt_status or "",
            "OPENCOMMS_SMSC_UNDELIV_SUFFIX": UNDELIVERED_SUFFIX,
            # digits only: Jasmin's default dlr_msgid compares the ids as they are
            "OPENCOMMS_SMSC_ID_PREFIX": str(secrets.randbelow(900) + 100),
        }
        self._spawn(["perl", str(script), "3"], env, self.smsc_out)
        self._wait_port(self.ports["smsc"], deadline, "the SMSC (smsc.pl)")

    # -- RabbitMQ ---------------------------------------------------------------------

    def _make_vhost(self) -> None:
        for command in (
            ["add_vhost", self.vhost],
            ["set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*"],
        ):
            done = subprocess.run(
                ["rabbitmqctl", "-q", *command],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if done.returncode != 0:
                raise JasminError(f"rabbitmqctl {' '.join(command)}: {done.stderr.strip()}")
            self.vhost_made = True

    # -- jasmind ----------------------------------------------------------------------

    def _start_jasmind(self, deadline: float) -> None:
        venv = jasmin_venv()
        for sub in ("etc/jasmin/store", "var/log/jasmin", "var/run/jasmin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        spec = subprocess.run(
            [
                str(venv / "bin" / "python"), "-c",
                "import os, txamqp; print(os.path.join(os.path.dirname(txamqp.__file__),"
                " 'specs/standard/amqp0-9-1.stripped.xml'))",
            ],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()  # fmt: skip
        config = self.root / "etc" / "jasmin" / "jasmin.cfg"
        config.write_text(self._config(spec))
        env = {**os.environ, "ROOT_PATH": str(self.root), "PYTHONUNBUFFERED": "1"}
        launcher = self.root / "jasmind-here.py"
        launcher.write_text(_LAUNCHER)
        command = [
            str(venv / "bin" / "python"), str(launcher), str(venv / "bin" / "jasmind.py"),
            "-c", str(config), "--enable-dlr-thrower", "--enable-dlr-lookup",
        ]  # fmt: skip
        self._spawn(command, env, self.jasmind_out)
        for name, what in (("jcli", "jCli"), ("smpp", "SMPP server"), ("http", "HTTP API")):
            self._wait_port(self.ports[name], deadline, f"jasmind's {what}")

    def _config(self, spec: str) -> str:
        p = self.ports
        return f"""\
[smpp-server]
bind = 127.0.0.1
port = {p["smpp"]}
log_level = WARNING
[smpp-server-pb]
bind = 127.0.0.1
port = {p["smpps_pb"]}
[smpp-server-pb-client]
port = {p["smpps_pb"]}
[router]
bind = 127.0.0.1
port = {p["router"]}
persistence_timer_secs = 0
log_level = WARNING
[client-management]
bind = 127.0.0.1
port = {p["smppcm"]}
log_level = WARNING
[jcli]
bind = 127.0.0.1
port = {p["jcli"]}
authentication = False
[http-api]
bind = 127.0.0.1
port = {p["http"]}
log_level = WARNING
[amqp-broker]
host = 127.0.0.1
port = 5672
vhost = {self.vhost}
spec = {spec}
[redis-client]
host = 127.0.0.1
port = 6379
[sm-listener]
log_level = WARNING
[dlr]
smpp_receipt_on_success_submit_sm_resp = {self.accepted_receipts}
dlr_lookup_retry_delay = 1
dlr_lookup_max_retries = 10
log_level = WARNING
[deliversm-thrower]
log_level = WARNING
[dlr-thrower]
log_level = WARNING
"""

    def _configure(self, deadline: float) -> None:
        with _JCli(self.ports["jcli"], timeout=max(1.0, deadline - time.monotonic())) as cli:
            for command in (
                "group -a / gid opencomms / ok",
                f"user -a / username {SYSTEM_ID} / password {PASSWORD} / gid opencomms"
                f" / uid {SYSTEM_ID} / ok",
                f"smppccm -a / cid {UPSTREAM} / host 127.0.0.1 / port {self.ports['smsc']}"
                " / username jasmin / password jasmin / submit_throughput 0"
                " / con_fail_delay 1 / con_loss_delay 1 / ok",
                f"smppccm -1 {UPSTREAM}",
                f"mtrouter -a / type DefaultRoute / connector smppc({UPSTREAM}) / rate 0 / ok",
            ):
                answer = cli.run(command)
                if re.search(r"error|unknown|invalid|cannot|not found", answer, re.I):
                    raise JasminError(f"jCli `{command}` answered: {answer.strip()}")
            while "BOUND_TRX" not in (listing := cli.run("smppccm -l")):
                if time.monotonic() > deadline:
                    raise JasminError(f"the upstream connector never bound: {listing}")
                time.sleep(0.2)

    # -- processes --------------------------------------------------------------------

    def _spawn(self, command: list[str], env: dict[str, str], log: Path) -> None:
        with log.open("ab") as out:
            process = subprocess.Popen(
                command, cwd=self.root, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self.processes.append(process)

    def _wait_port(self, port: int, deadline: float, what: str) -> None:
        while not _port_open(port):
            for process in self.processes:
                if process.poll() is not None:
                    raise JasminError(f"{what}: {process.args!r} exited ({process.returncode})")
            if time.monotonic() > deadline:
                raise JasminError(f"{what} is not listening on 127.0.0.1:{port}")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in reversed(self.processes):
            _kill_group(process)
        if self.vhost_made:
            subprocess.run(
                ["rabbitmqctl", "-q", "delete_vhost", self.vhost],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip

    def logs(self) -> str:
        return log_tails(self.root)


def log_tails(root: Path, lines: int = 25) -> str:
    """The last lines of every log of a chain, for error messages."""
    logs = [root / "smsc.log", root / "jasmind.log", *sorted(root.glob("var/log/jasmin/*.log"))]
    parts = []
    for log in logs:
        if log.exists() and log.stat().st_size:
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name} ---\n" + "\n".join(tail))
    return "\n".join(parts)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            # the group may outlive its leader (smsc.pl forks a child per bind)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _smsc_source() -> Path | None:
    for name in ("smsc.pl", "smsc.pl.gz"):
        if (SMSC_EXAMPLES / name).exists():
            return SMSC_EXAMPLES / name
    return None


# jasmind refuses to start while another holds the machine-wide lock /tmp/jasmind (and a
# killed one leaves it behind): this runs jasmind.py with the lock in the run's own root.
_LAUNCHER = """\
import os, runpy, sys
import lockfile

class _RunLock(lockfile.FileLock):
    def __init__(self, path, *args, **kwargs):
        path = os.path.join(os.environ["ROOT_PATH"], "var", "run", "jasmin", "jasmind")
        super().__init__(path, *args, **kwargs)

lockfile.FileLock = _RunLock
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


# -- the patch to the example SMSC ------------------------------------------------------

_SMSC_HELPERS = r"""
use POSIX qw(strftime);
use IO::Handle;
$receipt = $ENV{OPENCOMMS_SMSC_RECEIPT};
$id_prefix = $ENV{OPENCOMMS_SMSC_ID_PREFIX} || '1';
$submits = 0;
sub on_submit {  # opencomms: unique ids, a submit log, a terminal receipt
    my ($me, $pdu) = @_;
    my $id = sprintf('%s%07d%07d', $id_prefix, $$, ++$submits);
    $me->submit_sm_resp(message_id => $id, seq => $pdu->{seq});
    if ($ENV{OPENCOMMS_SMSC_LOG}) {
        if (!$log) { open($log, '>>', $ENV{OPENCOMMS_SMSC_LOG}) or die; $log->autoflush(1); }
        print $log join("\t", $id, $pdu->{source_addr}, $pdu->{destination_addr},
                        $pdu->{esm_class}, $pdu->{data_coding}, $pdu->{registered_delivery},
                        unpack('H*', $pdu->{short_message})) . "\n";
    }
    return unless $receipt && ($pdu->{registered_delivery} & 0x03);
    my $stat = $receipt;
    my $suffix = $ENV{OPENCOMMS_SMSC_UNDELIV_SUFFIX};
    $stat = 'UNDELIV' if $suffix && $pdu->{destination_addr} =~ /\Q$suffix\E$/;
    my $now = strftime('%y%m%d%H%M', localtime);
    my $err = $stat eq 'DELIVRD' ? '000' : '001';
    my %state = (DELIVRD => 2, EXPIRED => 3, DELETED => 4, UNDELIV => 5, ACCEPTD => 6,
                 UNKNOWN => 7, REJECTD => 8);
    $me->deliver_sm(async => 1,
                    source_addr_ton => $pdu->{dest_addr_ton},
                    source_addr_npi => $pdu->{dest_addr_npi},
                    source_addr => $pdu->{destination_addr},
                    dest_addr_ton => $pdu->{source_addr_ton},
                    dest_addr_npi => $pdu->{source_addr_npi},
                    destination_addr => $pdu->{source_addr},
                    esm_class => 0x04, data_coding => 0,
                    short_message => "id:$id sub:001 dlvrd:001 submit date:$now"
                                     . " done date:$now stat:$stat err:$err text:",
                    receipted_message_id => "$id\0",
                    message_state => pack('C', $state{$stat} || 7));
}
"""

# (pattern, replacement): each pattern must match exactly once, whitespace aside
_SMSC_PATCHES = (
    (r"use Data::Dumper;\n", "use Data::Dumper;\n" + _SMSC_HELPERS.replace("\\", "\\\\")),
    (r"\$port = 9900;", "$port = $ENV{OPENCOMMS_SMSC_PORT} || 9900;"),
    (
        r"(0x00000004 => \{ cmd => 'submit_sm',\s+reply => sub \{ my \(\$me, \$pdu\) = @_;)"
        r"\s+\$me->submit_sm_resp\(message_id=>'123456789',\s+seq => \$pdu->\{seq\}\) \}",
        r"\1 main::on_submit($me, $pdu) }",
    ),
    (
        r"0x80000005 => \{ cmd => 'deliver_sm_resp', reply => undef, \}",
        "0x80000005 => { cmd => 'deliver_sm_resp', reply => sub {}, }",
    ),
    (r'\s+warn "Waiting for PDU";', ""),
    (r'\s+warn "Replied";', ""),
    (r'\s+print "Received #[^\n]*\n\s*;', ""),
)


def patch_smsc(source: str) -> str:
    """The example SMSC with the five changes of this module's docstring."""
    for pattern, replacement in _SMSC_PATCHES:
        source, count = re.subn(pattern, replacement, source)
        if count != 1:
            raise JasminError(f"smsc.pl is not the expected version: {pattern!r} matched {count}×")
    return source


# -- jCli -------------------------------------------------------------------------------

_IAC = 255


class _JCli:
    """A minimal telnet client for jCli (telnetlib is deprecated): send a line, read up
    to the next prompt, ignoring telnet negotiation."""

    PROMPTS = (b"jcli : ", b"> ")

    def __init__(self, port: int, timeout: float = 30) -> None:
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        # jCli draws its first prompt only once a line arrives
        self.sock.sendall(b"\r\n")
        self._read_prompt()

    def __enter__(self) -> _JCli:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(b"quit\r\n")
        self.sock.close()

    def run(self, command: str) -> str:
        """One command; `a / b / ok` runs as the lines `a`, `b`, `ok`."""
        out = []
        for line in (part.strip() for part in command.split(" / ")):
            self.sock.sendall(line.encode() + b"\r\n")
            out.append(self._read_prompt())
        return "".join(out)

    def _read_prompt(self) -> str:
        deadline = time.monotonic() + self.timeout
        while not self.buffer.endswith(self.PROMPTS):
            if time.monotonic() > deadline:
                raise JasminError(f"jCli gave no prompt; it printed {self.buffer[-500:]!r}")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise JasminError(f"jCli closed the connection after {self.buffer[-500:]!r}")
            self.buffer += _strip_telnet(chunk)
        text, self.buffer = self.buffer.decode(errors="replace"), b""
        return text


def _strip_telnet(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i] == _IAC and i + 1 < len(data):
            i += 3 if data[i + 1] in (251, 252, 253, 254) else 2
            continue
        out.append(data[i])
        i += 1
    return bytes(out)
