"""``python -m examples.portal --portal sage``: both applications of the single sign-on demo.

"Portail documentaire" and "Portail assistance" run on two ports of 127.0.0.1, on one SQLite file
and one secret key. Ctrl-C stops both. See docs/integration/flask.md.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from examples.portal.app import HERE, VARIANTS, create_app
from examples.portal.seed import seed
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

APPS = (
    ("Portail documentaire", "portal_documentaire"),
    ("Portail assistance", "portal_assistance"),
)


class QuietHandler(WSGIRequestHandler):
    """Request log lines without the query string: mailed links carry their token there."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        self.log("info", '"%s %s" %s', self.command, path, code)


def build(args: argparse.Namespace) -> list[tuple[Flask, int]]:
    ports = (args.port, args.port + 1)
    urls = [f"http://{args.host}:{port}" for port in ports]
    apps = []
    for index, (name, cookie) in enumerate(APPS):
        config: dict[str, Any] = {
            "PORTAL": args.portal,
            "APP_NAME": name,
            "BASE_URL": urls[index],
            "OTHER_APP_URL": urls[1 - index] + "/",
            "SESSION_COOKIE_NAME": cookie,
            "INSTANCE": args.instance,
        }
        apps.append((create_app(config), ports[index]))
    return apps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.portal", description=__doc__)
    parser.add_argument("--portal", choices=VARIANTS, default="sage")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="first port (the next one too)")
    parser.add_argument("--instance", type=Path, default=HERE / "instance")
    parser.add_argument("--fresh", action="store_true", help="start from an empty database")
    parser.add_argument("--reset-admin", action="store_true", help="a new temporary password")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.fresh:
        for suffix in ("", "-wal", "-shm"):
            (args.instance / f"portal.sqlite3{suffix}").unlink(missing_ok=True)

    apps = build(args)
    seeded = seed(apps[0][0].extensions["credflow"], reset_admin=args.reset_admin)
    servers: list[BaseWSGIServer] = [
        make_server(args.host, port, app, threaded=True, request_handler=QuietHandler)
        for app, port in apps
    ]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()

    print(f"\ncredflow demo portal ({args.portal}), database in {args.instance}/")
    for (app, port), _ in zip(apps, servers, strict=True):
        print(f"  {app.config['APP_NAME']:<22} http://{args.host}:{port}/")
    print(f"  outbox (mail and SMS)  http://{args.host}:{apps[0][1]}/outbox")
    if seeded.temporary_password is not None:
        print(
            f"\nAdministrator: identifier {seeded.identifier!r}, temporary password "
            f"{seeded.temporary_password!r} (the first login asks for a new one)"
        )
    else:
        print(
            f"\nAdministrator {seeded.identifier!r} exists already "
            "(--reset-admin for a new temporary password, --fresh to start over)"
        )
    print("Ctrl-C to stop.\n", flush=True)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop.wait(0.5):
        pass
    for server in servers:
        server.shutdown()
        server.server_close()
    for app, _ in apps:
        app.extensions["portal_outbox"].close()
        app.extensions["credflow"].storage.dispose()
    print("stopped.")


if __name__ == "__main__":
    main()
