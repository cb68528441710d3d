"""Headless Chromium for the browser tests: Debian's chromium driven through its
chromedriver (python3-selenium), as a private process with a fresh profile, and a small
static web server on another origin that plays the web application embedding the XFrame.

Chromium resolves the demo's host names through --host-resolver-rules (no hosts file) and
trusts only the demo's server key (--ignore-certificate-errors-spki-list): every other
certificate check stays on."""
import base64
import functools
import hashlib
import http.server
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Flags for a quiet, private, reproducible instance: no sandbox (tests run as root), no
# network of its own (updates, sync, QUIC probes), a fresh --user-data-dir.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--no-proxy-server"]


def spki_hash(cert: Path) -> str:
    """base64(sha256(SubjectPublicKeyInfo)) of a PEM certificate, as Chromium's
    --ignore-certificate-errors-spki-list wants it."""
    pub = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         check=True, capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class Chromium:
    """One headless Chromium with its own profile directory. hosts maps host names to
    addresses; cert is the PEM certificate whose key the browser trusts."""

    def __init__(self, hosts: dict, cert: Path):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = Path(tempfile.mkdtemp(prefix="mobility-chromium-"))
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        rules = ", ".join(f"MAP {h} {a}" for h, a in sorted(hosts.items()))
        for f in FLAGS + [f"--user-data-dir={self.profile}",
                          f"--host-resolver-rules={rules}, EXCLUDE localhost",
                          f"--ignore-certificate-errors-spki-list={spki_hash(cert)}"]:
            opts.add_argument(f)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.driver.set_script_timeout(30)

    def console(self):
        """The page's console lines since the last call."""
        return [e["message"] for e in self.driver.get_log("browser")]

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class StaticSite:
    """Serves a directory over plain HTTP on addr (port chosen by the kernel): the web
    application's own origin, which is not the XFrame's."""

    def __init__(self, directory: Path, addr="127.0.0.3"):
        handler = functools.partial(_Quiet, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer((addr, 0), handler)
        self.origin = f"http://{addr}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
