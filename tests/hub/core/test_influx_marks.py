"""Sequence numbers of InfluxDB points: the mark never passes a point still on its way (pure bookkeeping)."""

from __future__ import annotations

from hub.core.influx_marks import SeqMarks


def test_mark_waits_for_the_oldest_batch_still_out() -> None:
    m = SeqMarks()
    m.added = 10  # ten points buffered
    assert m.mark() == 0
    a = m.taken(4)  # 0..3 on their way
    b = m.taken(4)  # 4..7
    assert (a, b) == (0, 4) and m.mark() == 0
    m.settled(b)  # the second batch written first
    assert m.mark() == 0
    m.settled(a)
    assert m.mark() == 8  # 8 and 9 still buffered
    m.consume(2)  # dropped (counted)
    assert m.mark() == 10


def test_a_batch_put_back_holds_the_mark_until_all_of_it_left_again() -> None:
    m = SeqMarks()
    m.added = 6
    low = m.taken(3)
    m.put_back(low, 3)  # InfluxDB down, no spill: back to the front of the buffer
    assert m.mark() == 0
    again = m.taken(2)  # part of it
    assert again == 0
    m.settled(again)
    assert m.mark() == 0  # one of its lines is still buffered
    last = m.taken(1)
    m.settled(last)
    assert m.mark() == 3
