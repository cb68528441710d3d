"""What the private SIP-side instances (kamailio.py, rtpengine.py, baresip.py, sipp.py)
share: a program started in the foreground of a child of this process, in a session of
its own, its output appended to a log file; stopped with a signal, killed if it does
not stop in time. Nothing here needs pytest."""
import os
import signal
import subprocess
import time


def stop_process(proc, sig=signal.SIGTERM, timeout=5):
    """Sends sig and waits; when the process is still there after timeout, SIGKILL to its
    process group (the session spawn() made for it: Kamailio's workers with it)."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            proc.kill()
        proc.wait()


class Daemon:
    """A subclass sets log_file (a Path) and calls spawn(argv) from its start()."""
    proc = None
    stop_signal = signal.SIGTERM

    def spawn(self, argv):
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self.proc

    def wait_ready(self, ready, what, timeout=10, step=0.05):
        """Polls ready() until true; raises (after stopping the instance) when the process
        exits or timeout passes, with the end of its log."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{what} exited {self.proc.returncode}:\n"
                                   f"{self.log_text()[-3000:]}")
            if ready():
                return self
            time.sleep(step)
        self.stop()
        raise RuntimeError(f"{what} not ready within {timeout} s:\n{self.log_text()[-3000:]}")

    def stop(self):
        stop_process(self.proc, self.stop_signal)
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
