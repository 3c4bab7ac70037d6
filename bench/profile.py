"""python -m bench.profile SCENARIO [--scale small] [--requests 400] [--repeat 5] [--layers] [--no-tree]

Runs one scenario's requests through the WSGI application in this process (no HTTP, no load
generator) on a seeded bench database, prints wall and CPU time per request (the median and the
lowest of --repeat rounds), then, with --layers, the CPU per request by layer (cProfile timed with
process CPU time, its own time per function summed by where the function lives, the standard
library's and builtins' charged to the layer that called them, scaled to the unprofiled CPU per
request), then a pyinstrument profile unless --no-tree. Seed first with
``python -m bench``.
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable

from bench.__main__ import RESULTS, django_env

# Where a function lives -> its layer; first match wins, checked against the file's path.
LAYERS = [
    ("psycopg + libpq (driver)", ("/psycopg/", "/psycopg_pool/", "'psycopg", "psycopg_binary")),
    ("django ORM (query building, compiling, rows to models)", ("/django/db/",)),
    ("DRF (request, auth, throttle, serializers, negotiation)", ("/rest_framework/",)),
    ("django handler, middleware, urls, http", ("/django/",)),
    ("redis client", ("/redis/",)),
    ("other libraries (whitenoise, axes, ipware, ...)", ("/site-packages/",)),
    ("this project (views, services, rendering, middleware)", ("/zupy/", "/core/", "/companies/",
     "/coupons/", "/customers/", "/rewards/", "/otp/", "/webhooks/")),
]  # fmt: skip


def layer_of(filename: str, function: str) -> str:
    # A built-in's "file" is "~": its name says whose it is ("<method 'execute' of 'psycopg...'>").
    where = function if filename == "~" else filename
    for layer, needles in LAYERS:
        if any(needle in where for needle in needles):
            return layer
    return "Python itself (stdlib, builtins) called from nowhere above"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("scenario")
    parser.add_argument("--scale", default="small")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds of --requests each")
    parser.add_argument("--layers", action="store_true", help="CPU per request by layer (cProfile)")
    parser.add_argument("--no-tree", action="store_true", help="skip the pyinstrument tree")
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
    per = args.requests / 1000
    walls, cpus = [], []
    for _ in range(args.repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        for n in range(args.requests):
            call(n)
        walls.append((time.perf_counter() - wall) / per)
        cpus.append((time.process_time() - cpu) / per)
    print(
        f"{args.scenario}: {statistics.median(walls):.3f} ms wall (lowest {min(walls):.3f}), "
        f"{statistics.median(cpus):.3f} ms CPU (lowest {min(cpus):.3f}) per request, "
        f"median of {args.repeat} rounds of {args.requests}"
    )
    if args.layers:
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for n in range(args.requests):
            call(n)
        profile.disable()
        stats = pstats.Stats(profile)
        by_layer: dict[str, float] = {}
        raw = stats.stats  # type: ignore[attr-defined]  # pstats' table: not in its stubs

        def own_layer(func: tuple[str, int, str]) -> str | None:
            # Builtins and the standard library belong to whoever called them.
            layer = layer_of(func[0], func[2])
            return None if layer.startswith("Python") else layer

        def charged(func: tuple[str, int, str], seen: frozenset[tuple[str, int, str]]) -> dict[str, float]:
            """Shares of ``func``'s calls by the layer that made them, walking up through builtins."""
            layer = own_layer(func)
            if layer is not None:
                return {layer: 1.0}
            callers = raw[func][4]
            total_calls = sum(edge[1] for edge in callers.values()) or 1
            shares: dict[str, float] = {}
            for caller, edge in callers.items():
                if caller in seen or caller not in raw:
                    continue
                for upper, share in charged(caller, seen | {func}).items():
                    shares[upper] = shares.get(upper, 0.0) + share * edge[1] / total_calls
            return shares or {layer_of(func[0], func[2]): 1.0}

        for func, (_, _, tottime, _, _) in raw.items():
            for layer, share in charged(func, frozenset()).items():
                by_layer[layer] = by_layer.get(layer, 0.0) + tottime * share
        total = sum(by_layer.values())
        scale = statistics.median(cpus) / total
        print(f"CPU per request by layer (cProfile shares x {statistics.median(cpus):.3f} ms):")
        for layer, seconds in sorted(by_layer.items(), key=lambda item: -item[1]):
            print(f"  {seconds * scale:6.3f} ms  {seconds / total:5.1%}  {layer}")
    if args.no_tree:
        return
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for n in range(args.requests):
        call(n)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
