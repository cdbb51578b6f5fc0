"""Ownership leases as stored (store/ownership.py) and as a process keeps them
(background/ownership.py), on both engines: one owner at a time, renewed while held,
taken over once run out, fenced, released at a clean stop."""

from __future__ import annotations

import asyncio

from opencomms.background.ownership import Ownership
from opencomms.store import ownership
from opencomms.store.database import Database


async def test_one_owner_at_a_time_until_the_lease_runs_out(db: Database) -> None:
    first = await db.write(lambda c: ownership.take(c, "sink:a", "one", 300))
    assert first is not None
    assert await db.write(lambda c: ownership.take(c, "sink:a", "two", 300)) is None
    again = await db.write(lambda c: ownership.take(c, "sink:a", "one", 300))
    assert again is not None and again >= first  # the owner takes its own again: renewed
    await asyncio.sleep(0.4)
    assert await db.write(lambda c: ownership.take(c, "sink:a", "two", 300)) is not None
    held = await db.read(lambda c: ownership.holders(c, "sink:"))
    assert held["sink:a"][0] == "two"


async def test_a_lease_that_ran_out_is_not_renewed(db: Database) -> None:
    await db.write(lambda c: ownership.take(c, "connector:smpp", "one", 200))
    await db.write(lambda c: ownership.take(c, "connector:other", "one", 60_000))
    kept = await db.write(lambda c: ownership.renew(c, ["connector:smpp"], "one", 200))
    assert kept == {"connector:smpp"}
    await asyncio.sleep(0.3)
    kept = await db.write(
        lambda c: ownership.renew(c, ["connector:smpp", "connector:other"], "one", 200)
    )
    assert kept == {"connector:other"}  # it ran out: another may hold it now
    assert await db.write(lambda c: ownership.take(c, "connector:smpp", "two", 200)) is not None
    assert await db.write(lambda c: ownership.renew(c, ["connector:smpp"], "one", 200)) == set()


async def test_a_process_believes_it_holds_a_lease_only_while_surely_so(db: Database) -> None:
    one = Ownership(db, owner="one", ttl_s=0.5)
    two = Ownership(db, owner="two", ttl_s=0.5)
    assert await one.take("sink:s")
    assert one.holds("sink:s")
    assert not await two.take("sink:s")
    assert not two.may_take("sink:s")  # asked again only a moment later
    await asyncio.sleep(0.45)
    assert not one.holds("sink:s")  # before the database lets anyone else take it
    await one.renew()  # not taken meanwhile: still its own
    assert one.holds("sink:s")
    await asyncio.sleep(1.1)
    assert await two.take("sink:s")
    assert not await db.write(lambda c: one.confirm(c, "sink:s"))  # fenced out
    assert not one.holds("sink:s")
    assert await db.write(lambda c: two.confirm(c, "sink:s"))


async def test_released_leases_are_taken_at_once(db: Database) -> None:
    one = Ownership(db, owner="one")
    two = Ownership(db, owner="two")
    assert await one.take("sink:x")
    await one.release_all()
    assert await two.take("sink:x")
