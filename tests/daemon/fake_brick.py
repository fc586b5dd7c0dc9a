#!/usr/bin/env python3
"""A stand-in for `mortar brick` in the daemon's own tests (Tests/MortarCatalogTests/DaemonHarness.swift).

Takes the options the daemon passes a brick and uses --export, --port and --listen-host (default 127.0.0.1): it
records each start as a line in EXPORT/.starts, exits with status 3 on its first start when EXPORT/.exit-first
exists (to test restarts), and otherwise accepts and closes connections on HOST:PORT until killed, so the daemon
sees the brick online.
"""
import os
import signal
import socket
import sys


def option(arguments, name, default=None):
    if name in arguments:
        return arguments[arguments.index(name) + 1]
    if default is None:
        sys.exit("fake_brick: missing %s" % name)
    return default


def main(arguments):
    # A test process may start this with SIGTERM blocked (threads of a Swift test runner block signals, and a
    # blocked signal stays blocked across exec): a brick must stop on SIGTERM, so this one does too.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    export, port = option(arguments, "--export"), int(option(arguments, "--port"))
    host = option(arguments, "--listen-host", "127.0.0.1")
    starts = os.path.join(export, ".starts")
    with open(starts, "a") as log:
        log.write("start\n")
    with open(starts) as log:
        count = len(log.readlines())
    if os.path.exists(os.path.join(export, ".exit-first")) and count == 1:
        return 3
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(16)
    while True:
        connection, _ = listener.accept()
        connection.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
