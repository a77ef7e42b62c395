"""The order in which waiting jobs get a worker: round-robin across users, then batches.

Deterministic: the queue is plain data, so the order is checked exactly, with no server and no
clock. How this order shows from the outside (a user's first file starts at once whatever others
queued) is in ``test_fairness.py`` and, timed, in ``benchmarks/fairness.py``.
"""

from __future__ import annotations

from batchkit.server.fair_queue import FairQueue, JobOwner


def _drain(queue: FairQueue[str]) -> list[str]:
    order = []
    while (item := queue.pop()) is not None:
        order.append(item)
    return order


def test_users_take_turns_whatever_one_of_them_queued_first() -> None:
    queue: FairQueue[str] = FairQueue()
    for story in range(4):  # alice's four heavy stories, three jobs each, queued first
        for job in range(3):
            queue.push(JobOwner("alice", "a-batch", story), f"alice s{story} j{job}")
    queue.push(JobOwner("bob", "b-batch", 0), "bob s0 j0")
    queue.push(JobOwner("carol", "c-batch", 0), "carol s0 j0")
    assert _drain(queue)[:4] == ["alice s0 j0", "bob s0 j0", "carol s0 j0", "alice s0 j1"]


def test_within_a_user_batches_take_turns_and_within_a_batch_earlier_stories_go_first() -> None:
    queue: FairQueue[str] = FairQueue()
    queue.push(JobOwner("alice", "first", 1), "first s1")
    queue.push(JobOwner("alice", "first", 0), "first s0")
    queue.push(JobOwner("alice", "first", 0), "first s0 again")
    queue.push(JobOwner("alice", "second", 5), "second s5")
    queue.push(JobOwner("alice", "second", 2), "second s2")
    assert _drain(queue) == ["first s0", "second s2", "first s0 again", "second s5", "first s1"]


def test_a_user_who_comes_back_joins_the_end_of_the_turns() -> None:
    queue: FairQueue[str] = FairQueue()
    queue.push(JobOwner("bob", "b", 0), "bob 1")
    queue.push(JobOwner("alice", "a", 0), "alice 1")
    queue.push(JobOwner("alice", "a", 0), "alice 2")
    assert queue.pop() == "bob 1"  # bob has nothing left: he leaves the turns
    queue.push(JobOwner("carol", "c", 0), "carol 1")
    queue.push(JobOwner("bob", "b", 0), "bob 2")
    assert _drain(queue) == ["alice 1", "carol 1", "bob 2", "alice 2"]


def test_a_removed_job_is_never_given_out_and_the_rest_keep_their_order() -> None:
    queue: FairQueue[str] = FairQueue()
    jobs = [f"job {n}" for n in range(4)]
    for n, job in enumerate(jobs):
        queue.push(JobOwner("alice", "a", n), job)
    queue.push(JobOwner("bob", "b", 0), "bob")
    assert queue.remove(jobs[0])
    assert not queue.remove("never queued")
    assert len(queue) == 4
    assert _drain(queue) == ["job 1", "bob", "job 2", "job 3"]
    assert len(queue) == 0
    assert queue.pop() is None


def test_a_batchs_later_stories_in_progress_use_only_what_first_stories_leave() -> None:
    """Alice's batch started alone with two stories in progress; bob's started after with one.
    Alice's second story (rank 1) waits while any batch's first story (rank 0) has a job."""
    queue: FairQueue[str] = FairQueue()
    queue.push(JobOwner("alice", "a", 1, rank=1), "alice s1")
    queue.push(JobOwner("alice", "a", 0, rank=0), "alice s0")
    queue.push(JobOwner("bob", "b", 0, rank=0), "bob s0")
    queue.push(JobOwner("alice", "a", 1, rank=1), "alice s1 again")
    queue.push(JobOwner("bob", "b", 0, rank=0), "bob s0 again")
    assert _drain(queue) == ["alice s0", "bob s0", "bob s0 again", "alice s1", "alice s1 again"]
