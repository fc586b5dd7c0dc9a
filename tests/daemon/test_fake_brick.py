#!/usr/bin/env python3
"""Tests of fake_brick.py: it records starts, exits once when asked, and listens where it is told."""
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "fake_brick.py")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class FakeBrickTests(unittest.TestCase):
    def test_first_start_exits_when_asked_and_records_it(self):
        with tempfile.TemporaryDirectory() as export:
            open(os.path.join(export, ".exit-first"), "w").close()
            status = subprocess.run([sys.executable, SCRIPT, "--export", export, "--port", str(free_port())]).returncode
            self.assertEqual(status, 3)
            with open(os.path.join(export, ".starts")) as starts:
                self.assertEqual(starts.read(), "start\n")

    def test_listens_on_the_given_host_and_port(self):
        with tempfile.TemporaryDirectory() as export:
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, SCRIPT, "--export", export, "--port", str(port), "--listen-host", "127.0.0.1"])
            try:
                deadline = time.monotonic() + 10
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        break
                    except OSError:
                        self.assertLess(time.monotonic(), deadline, "the fake brick never listened")
                        time.sleep(0.05)
            finally:
                process.kill()
                process.wait()

    def test_missing_export_is_an_error(self):
        status = subprocess.run([sys.executable, SCRIPT, "--port", "1"], capture_output=True).returncode
        self.assertNotEqual(status, 0)


if __name__ == "__main__":
    unittest.main()
