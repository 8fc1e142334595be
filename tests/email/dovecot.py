"""A private Dovecot IMAP server for the tests: its own config, base_dir, users and maildirs under tmp_path."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = {uid}
default_login_user = dovenull
default_internal_user = dovecot
imap_idle_notify_interval = 1 secs
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Dovecot:
    root: Path
    port: int  # plain IMAP (STARTTLS offered when TLS is on)
    tls_port: int  # implicit TLS (0 when TLS is off)
    user: str = "support@example.com"
    password: str = "secret-pw"
    cert: Path | None = None
    process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the server and wait until it answers on its port."""
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(200).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def make_dovecot(root: Path, tls: bool = False) -> Dovecot:
    """Write a config for a server under `root` (not started)."""
    nobody = pwd.getpwnam("nobody")
    for name in ("run", "state", "home"):
        (root / name).mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    os.chown(root / "home", nobody.pw_uid, nobody.pw_gid)
    server = Dovecot(root, free_port(), free_port() if tls else 0)
    (root / "passwd").write_text(f"{server.user}:{{PLAIN}}{server.password}\n")
    ssl_files = ""
    if tls:
        server.cert = root / "cert.pem"
        key = root / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                        "-out", str(server.cert)], check=True, capture_output=True)
        ssl_files = f"ssl_cert = <{server.cert}\nssl_key = <{key}\n"
    (root / "dovecot.conf").write_text(CONFIG.format(
        root=root, ssl="yes" if tls else "no", ssl_files=ssl_files, uid=nobody.pw_uid, gid=nobody.pw_gid,
        port=server.port, tls_port=server.tls_port))
    return server
