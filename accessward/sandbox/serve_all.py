"""``python -m accessward.sandbox.serve_all``: every network simulator on fixed ports, until SIGTERM.

``accessward demo`` starts the simulators on free loopback ports inside its own process; a
container (``docker compose --profile demo``) needs them on known ports on every interface so
the ``accessward`` service can reach them by name. Each is seeded with the same demo brand as
``accessward demo``, so docker/accessward.toml reads the same world. Needs the ``demo`` extra.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from types import FrameType

from accessward.sandbox import linkedin, meta, pinterest, scim, tiktok
from accessward.sandbox.server import start_app

#: name -> port. docker/accessward.toml and docker/compose.yaml use these numbers.
PORTS = {"meta": 9101, "linkedin": 9102, "tiktok": 9103, "pinterest": 9104, "scim": 9105}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="0.0.0.0", help="listen address (default: every interface)")
    parser.add_argument("--port-offset", type=int, default=0, help="added to every port (tests; default 0)")
    args = parser.parse_args(argv)
    ports = {name: port + args.port_offset for name, port in PORTS.items()}
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    apps = {"meta": meta.create_app(meta.demo_state()), "linkedin": linkedin.create_app(linkedin.demo_state()),
            "tiktok": tiktok.create_app(tiktok.demo_state()),
            "pinterest": pinterest.create_app(pinterest.demo_state())}
    with contextlib.ExitStack() as stack:
        for name, app in apps.items():
            server = stack.enter_context(start_app(app, args.host, ports[name], log_level="info"))
            print(f"{name}: listening on {args.host}:{server.port}", flush=True)
        suite = stack.enter_context(scim.ScimServer(host=args.host, port=ports["scim"]))
        scim.demo_users(suite)
        print(f"scim: listening on {args.host}:{suite.port} (/v2)", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
