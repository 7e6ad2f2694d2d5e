"""Shared fixtures: one real Synapse per test session, and fresh users on it.

* ``synapse`` (session): a throwaway Synapse (:class:`twimbot.devserver.Synapse`) on
  127.0.0.1 with SQLite, started once (~2.5 s) and stopped after the last test. Tests may
  ``stop()``/``restart()`` it (same port, same database, tokens stay valid): any test that uses
  it finds it running again, so a failed outage test does not take the rest of the suite down.
* ``new_user(displayname=None, admin=False, prefix="user")``: registers a user with a unique
  localpart (~20 ms) and returns its :class:`~twimbot.devserver.RegisteredUser`.
* ``new_actor(displayname=None, admin=False, prefix="user")``: same, as an entered
  :class:`twimbot.actor.Actor` (its sync position is "now"), closed after the test.

Tests that use ``synapse`` get the ``synapse`` marker automatically: ``pytest -m "not synapse"``
runs only the pure-logic tests. They and the demo's tests (which start a Synapse of their own)
also get ``homeserver``: ``make test`` runs ``-m homeserver`` and ``-m "not homeserver"`` as
two pytest processes at once (each keeps about one core busy, so on two cores the pure-logic
tests add almost nothing to the time). Bot fixtures belong in their own modules, not here.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from twimbot.actor import Actor
from twimbot.devserver import RegisteredUser, Synapse

pytest_plugins = ["world"]

NewUser = Callable[..., RegisteredUser]
NewActor = Callable[..., Awaitable[Actor]]

# Unique within the session; the random part keeps localparts unique even if a workdir (and so
# a database) were ever reused.
_localparts = itertools.count(1)
_run_tag = secrets.token_hex(2)


# Modules whose tests start a homeserver of their own (the demo's).
_OWN_HOMESERVER = frozenset({"test_demo"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses_synapse = "synapse" in getattr(item, "fixturenames", ())
        if uses_synapse:
            item.add_marker(pytest.mark.synapse)
        # `make test` runs the tests that run a homeserver in one pytest process, in order
        # (one Synapse at a time, the session's started once), and the others beside it
        if uses_synapse or item.path.stem in _OWN_HOMESERVER:
            item.add_marker(pytest.mark.homeserver)


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """The session's Synapse; its workdir (config, database, homeserver.log) is a pytest tmp
    dir, kept for the last few runs, where a failing test's server log can be read."""
    server = Synapse(tmp_path_factory.mktemp("synapse"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _synapse_running(request: pytest.FixtureRequest) -> None:
    # Only for tests that asked for the server: bring it back if an earlier test left it down.
    if "synapse" in request.fixturenames:
        server: Synapse = request.getfixturevalue("synapse")
        server.start()  # no-op while running


@pytest.fixture
def new_user(synapse: Synapse) -> NewUser:
    def make(
        displayname: str | None = None, *, admin: bool = False, prefix: str = "user"
    ) -> RegisteredUser:
        localpart = f"{prefix}{next(_localparts)}-{_run_tag}".lower()
        return synapse.register(localpart, displayname=displayname, admin=admin)

    return make


@pytest.fixture
async def new_actor(new_user: NewUser) -> AsyncIterator[NewActor]:
    actors: list[Actor] = []

    async def make(
        displayname: str | None = None, *, admin: bool = False, prefix: str = "user"
    ) -> Actor:
        actor = Actor.from_user(new_user(displayname, admin=admin, prefix=prefix))
        actors.append(actor)
        await actor.__aenter__()
        return actor

    yield make
    for actor in actors:
        await actor.close()


@pytest.fixture(autouse=True)
async def _watchdog() -> AsyncIterator[None]:
    # A hanging test shows where every task waits, instead of only the idle event loop.
    import asyncio
    import sys

    def dump() -> None:
        print("\nwatchdog: test still running after 60 s; tasks:", file=sys.stderr)
        for task in asyncio.all_tasks():
            print(f"  {task.get_name()}:", file=sys.stderr)
            task.print_stack(limit=8, file=sys.stderr)

    handle = asyncio.get_running_loop().call_later(60, dump)
    yield
    handle.cancel()
