"""python -m bench.profile SCENARIO [--scale small] [--requests 400]

Runs one scenario's requests through the WSGI application in this process (no HTTP, no load
generator) on a seeded bench database, prints wall and CPU time per request, then a pyinstrument
profile. Seed first with ``python -m bench``.
"""

import argparse
import io
import os
import sys
import time
from collections.abc import Callable

from bench.__main__ import RESULTS, django_env


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("scenario")
    parser.add_argument("--scale", default="small")
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    os.environ.update(django_env(args.scale))
    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application
    from pyinstrument import Profiler

    from bench.scenarios import SCENARIOS, rows
    from bench.seed import Seeded

    seeded = Seeded.load(RESULTS / f".state-{args.scale}.json")
    scenario = next(s for s in SCENARIOS if s.name == args.scenario)
    app = get_wsgi_application()
    sample = rows(seeded)

    def call(n: int) -> None:
        row = scenario.row_for(seeded, sample[n % len(sample)])
        path, _, query = scenario.path(row).partition("?")
        body = scenario.body.encode()
        environ = {
            "REQUEST_METHOD": scenario.method, "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json" if body else "",
            "HTTP_X_API_KEY": seeded.keys[row.company],
        }  # fmt: skip
        statuses: list[str] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: object = None
        ) -> Callable[[bytes], object]:
            statuses.append(status)
            return lambda data: None  # the WSGI write() callable; Django never calls it

        response = app(environ, start_response)
        b"".join(response)
        response.close()
        assert statuses[0].startswith("200"), statuses

    for n in range(50):
        call(n)
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(args.requests):
        call(n)
    per = args.requests / 1000
    print(
        f"{args.scenario}: {(time.perf_counter() - wall) / per:.3f} ms wall, "
        f"{(time.process_time() - cpu) / per:.3f} ms CPU per request"
    )
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for n in range(args.requests):
        call(n)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
