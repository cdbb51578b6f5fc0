"""The real `opencomms serve` process, started and killed as an operator would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from tests.support.server import free_port


class ServeProcess:
    def __init__(
        self,
        database_url: str,
        workdir: Path,
        env: dict[str, str],
        *,
        piped: bool = False,
        options: Sequence[str] = (),
    ) -> None:
        """`piped`: its output goes through a pipe into `output` instead of a file (the
        file could not be written while a test limits the process's file size).
        `options`: more options of `serve` (`--workers 2`, `--role api`)."""
        self.database_url = database_url
        self.options = list(options)
        self._piped = piped
        self.output: list[str] = []
        self.workdir = workdir
        self.env = {**os.environ, **env}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = workdir / "serve.log"

    def start(self, timeout: float = 60) -> ServeProcess:
        command = [
            sys.executable, "-m", "opencomms", "serve",
            "--port", str(self.port), "--database-url", self.database_url, *self.options,
        ]  # fmt: skip
        if self._piped:
            self._process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            threading.Thread(target=self._collect, args=(self._process,), daemon=True).start()
        else:
            with self._log.open("ab") as log:
                self._process = subprocess.Popen(
                    command, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT
                )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"opencomms serve exited: {self.log_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"opencomms serve did not become ready: {self.log_text()[-2000:]}")

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def log_text(self) -> str:
        """What the process printed so far."""
        return "".join(self.output) if self._piped else self._log.read_text()

    def _collect(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.output.append(line)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, exactly like a crash or an OOM kill."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=30)

    def wait(self, timeout: float = 30) -> int:
        """Its exit status, once it has exited by itself."""
        assert self._process is not None
        return self._process.wait(timeout=timeout)

    def stop(self, timeout: float = 30) -> bool:
        """SIGTERM, as an operator stops it; SIGKILL after `timeout` s. True when it
        stopped by itself."""
        if self._process is None or self._process.poll() is not None:
            return True
        self._process.terminate()
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            return False
        return True
