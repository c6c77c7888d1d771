#!/usr/bin/env python3
"""Lists the functions a running Broadside server executes, for build.rs.

    BROADSIDE_HOT_CODE=off cargo build --release --bin broadside \
        --config profile.release.strip=false
    python3 link/hot-code.py target/release/broadside \
        postgres://postgres@127.0.0.1:5432/test > link/hot-code.txt

(Without the layout: callgrind attributes the functions build.rs moved out
of `.text` to no object, and would list none of them.)

Runs the binary (it must keep its symbols) under callgrind once per stage,
on a fresh database each time, each SQLite run going one stage further:

  start-up    the server starts, answers /healthz, and an organisation is
              created through the admin API (an RSA key is generated);
  discovered  a follower's server finds the organisation: WebFinger and
              the actor document;
  serving     a statement is published and every public document and page
              is read, as HTML and as ActivityPub, and the admin API's lists;
  postgres    with a PostgreSQL URL as the second argument: start-up and
              discovery again, on a fresh database on that server (created
              and dropped with psql), for the code only PostgreSQL runs.

and writes one section-name pattern per executed function, grouped by the
stage that first ran it, in that order: a server that has only got as far
as a stage has only the code up to that stage resident. A pattern drops
the hash a symbol carries (`_ZN…17h*`, and `Cs*_` for a crate in v0 names)
so that it still matches after a change of compiler, dependency or
profile. Legacy names do not spell out generic arguments, so a pattern
matches every instance of a generic function; a pattern whose instances
are mostly code that did not run (more than 16 kB of it and three times
what ran) goes into a group of its own after the others of its stage, so
that the unused instances do not dilute them.

Needs valgrind and nm (binutils), and psql for the PostgreSQL stage.
Takes about two minutes.
"""

import collections
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEGACY_HASH = re.compile(r"17h[0-9a-f]{16}E(\..*)?$")
V0_CRATE = re.compile(r"Cs[0-9A-Za-z]+_")
PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$.]*$")
UNRAN_SLACK = 16 * 1024
UNRAN_RATIO = 3


def pattern(symbol):
    """The section-name pattern for a symbol; None for one we cannot name."""
    if not PLAIN.match(symbol):
        return None
    if symbol.startswith("_ZN") and LEGACY_HASH.search(symbol):
        return LEGACY_HASH.sub("", symbol) + "17h*"
    # A local copy the compiler made carries a suffix (`.constprop.0`,
    # `.isra.0`, `.llvm.123`, `.60`) that changes from build to build.
    base, dot, _ = symbol.partition(".")
    if base.startswith("_R"):
        base = V0_CRATE.sub("Cs*_", base)
    return base + (".*" if dot else "")


def request(base, path, token=None, body=None, accept=None):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    if accept:
        headers["Accept"] = accept
    req = urllib.request.Request(base + path, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def executed(binary, stage, postgres=None):
    """Names of the functions of `binary` that ran up to `stage` (0, 1, 2),
    on SQLite or on a fresh database on the PostgreSQL server `postgres`."""
    if postgres:
        name = f"broadside_hot_code_{os.getpid()}"
        subprocess.run(["psql", "-q", postgres, "-c", f"CREATE DATABASE {name}"], check=True)
        try:
            return executed_on(binary, stage, postgres.rsplit("/", 1)[0] + "/" + name)
        finally:
            subprocess.run(["psql", "-q", postgres, "-c", f"DROP DATABASE {name} WITH (FORCE)"],
                           check=True)
    return executed_on(binary, stage, None)


def executed_on(binary, stage, database):
    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        env = dict(
            os.environ,
            BROADSIDE_CONFIG=os.path.join(ROOT, "config/broadside.toml"),
            BROADSIDE_DATABASE_URL=database or f"sqlite://{tmp}/broadside.db",
            BROADSIDE_MEDIA_DIR=f"{tmp}/media",
            BROADSIDE_LISTEN=f"127.0.0.1:{port}",
            BROADSIDE_BASE_URL=base,
        )
        env.pop("RUST_LOG", None)
        subprocess.run([binary, "migrate"], env=env, check=True, capture_output=True)
        token = subprocess.run(
            [binary, "token", "create", "--name", "hot-code"],
            env=env, check=True, capture_output=True, text=True,
        ).stdout.split()[-1]
        out = f"{tmp}/callgrind.out"
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={out}",
             binary, "serve"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(600):
                try:
                    if request(base, "/healthz") == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            organisation = {"handle": "cras", "name": "CRAS", "summary": "A union."}
            assert request(base, "/api/v1/organisations", token, organisation) == 201
            host = f"127.0.0.1:{port}"
            if stage >= 1:
                request(base, f"/.well-known/webfinger?resource=acct:cras@{host}")
                request(base, "/organisations/cras", accept="application/activity+json")
            if stage >= 2:
                with open(os.path.join(ROOT, "tests/fixtures/kazakhstan.md")) as f:
                    statement = {"title": "A statement", "body": f.read(),
                                 "signatories": ["cras"], "publish": True}
                assert request(base, "/api/v1/statements", token, statement) == 201
                for path in ["/", "/organisations/cras", "/organisations/cras/outbox",
                             "/organisations/cras/followers", "/feed.atom",
                             f"/.well-known/webfinger?resource=acct:cras@{host}",
                             "/.well-known/nodeinfo", "/nodeinfo/2.1",
                             "/.well-known/host-meta"]:
                    request(base, path)
                    request(base, path, accept="application/activity+json")
                request(base, "/api/v1/statements", token)
                request(base, "/api/v1/organisations", token)
            time.sleep(1)
        finally:
            server.terminate()
            server.wait()
        return callgrind_functions(out, binary)


def callgrind_functions(path, binary):
    objects, names, functions, current = {}, {}, set(), None
    record = re.compile(r"^(c?ob|c?fn)=\((\d+)\)(?: (.*))?$")
    with open(path) as f:
        for line in f:
            m = record.match(line.rstrip("\n"))
            if not m:
                continue
            kind, key, name = m.groups()
            table = objects if kind.endswith("ob") else names
            if name:
                table[key] = name
            if kind == "ob":
                current = objects[key]
            elif kind == "fn" and current == binary:
                functions.add(names[key])
    return functions


def main():
    binary = os.path.realpath(sys.argv[1])
    stages = [("start-up", executed(binary, 0))]
    if len(stages[0][1]) < 1000:
        sys.exit(f"callgrind named only {len(stages[0][1])} functions of {binary}: "
                 "was it built with BROADSIDE_HOT_CODE=off and its symbols?")
    stages.append(("discovered", executed(binary, 1)))
    stages.append(("serving", executed(binary, 2)))
    if len(sys.argv) > 2:
        stages.append(("postgres", executed(binary, 1, postgres=sys.argv[2])))
    ran = set().union(*(functions for _, functions in stages))
    sizes = collections.defaultdict(lambda: [0, 0])  # pattern -> [all, ran]
    listing = subprocess.run(["nm", "-S", "--defined-only", binary],
                             check=True, capture_output=True, text=True).stdout
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in "tTwW" and (p := pattern(fields[3])):
            size = int(fields[1], 16)
            sizes[p][0] += size
            if fields[3] in ran:
                sizes[p][1] += size
    ran_patterns = {p for p, (_, hot) in sizes.items() if hot}
    precise = {p for p in ran_patterns
               if sizes[p][0] - sizes[p][1] <= UNRAN_SLACK
               or sizes[p][0] <= UNRAN_RATIO * sizes[p][1]}
    groups, placed = [], set()
    for name, functions in stages:
        first = {pattern(f) for f in functions} & (ran_patterns - placed)
        groups.append((name, first & precise))
        groups.append((f"{name}, with every instance", first - precise))
        placed |= first
    print("# Functions a running server executes, laid out first by build.rs.")
    print(f"# Written by link/hot-code.py: {sum(sizes[p][1] for p in ran_patterns) // 1024} kB "
          f"ran, {sum(sizes[p][0] for p in ran_patterns) // 1024} kB matched.")
    for name, patterns in groups:
        print(f"[{name}]")
        print("\n".join(sorted(patterns)))


if __name__ == "__main__":
    main()
