"""Fair pacing: a provider's turns shared between accounts, then operations."""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from opencomms.connectors.pacing import FairPacer, TokenBucket


async def granted_order(pacer: FairPacer, waiters: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (account, operation) of each turn, in the order the pacer granted them."""
    order: list[tuple[str, str]] = []

    async def wait(account: str, operation: str) -> None:
        await pacer.turn(account, operation)
        order.append((account, operation))

    await asyncio.gather(*(wait(account, operation) for account, operation in waiters))
    return order


async def test_a_late_small_operation_is_served_next_not_after_the_campaign() -> None:
    waiters = [("AC1", "campaign")] * 50 + [("AC1", "single")]

    order = await granted_order(FairPacer(rate=2000), waiters)

    assert order.index(("AC1", "single")) <= 2
    assert order.count(("AC1", "campaign")) == 50


async def test_accounts_take_turns_whatever_their_number_of_operations() -> None:
    busy = [("AC1", f"op{n}") for n in range(3) for _ in range(10)]
    waiters = busy + [("AC2", "op")] * 10

    order = await granted_order(FairPacer(rate=5000), waiters)

    first_twenty = [account for account, _ in order[:20]]
    assert first_twenty.count("AC2") == 10  # every other turn, until AC2 runs out


async def test_without_a_rate_every_turn_is_granted_at_once() -> None:
    order = await granted_order(FairPacer(rate=0), [("AC1", "a")] * 100)
    assert len(order) == 100


async def test_a_canceled_waiter_gives_its_turn_away() -> None:
    pacer = FairPacer(rate=1000)
    first = asyncio.create_task(pacer.turn("AC1", "a"))
    gone = asyncio.create_task(pacer.turn("AC1", "b"))
    await asyncio.sleep(0)
    gone.cancel()
    last = asyncio.create_task(pacer.turn("AC1", "c"))

    await asyncio.wait_for(asyncio.gather(first, last), timeout=5)

    assert gone.cancelled()


async def test_the_bucket_spaces_takers_at_its_rate() -> None:
    bucket = TokenBucket(rate=100)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(bucket.take() for _ in range(6)))
    assert loop.time() - started >= 5 / 100 * 0.95


waiter_lists = st.lists(
    st.tuples(st.sampled_from(["AC1", "AC2", "AC3"]), st.sampled_from(["a", "b", "c"])),
    max_size=40,
)


def evenly_served(order: list[str], waiting: list[str]) -> bool:
    """At every point of `order`, the keys that still have turns to come have had as many
    turns so far, give or take one."""
    left = Counter(waiting)
    served: Counter[str] = Counter()
    for key in order:
        served[key] += 1
        left[key] -= 1
        counts = [served[k] for k in left if left[k] > 0]
        if counts and max(counts) - min(counts) > 1:
            return False
    return True


@given(waiter_lists)
def test_turns_go_round_robin_between_accounts_then_their_operations(
    waiters: list[tuple[str, str]],
) -> None:
    order = asyncio.run(granted_order(FairPacer(rate=1_000_000), waiters))

    assert sorted(order) == sorted(waiters)
    assert evenly_served([account for account, _ in order], [a for a, _ in waiters])
    for account in {a for a, _ in waiters}:
        of_account = [(a, o) for a, o in order if a == account]
        assert evenly_served([o for _, o in of_account], [o for a, o in waiters if a == account])
