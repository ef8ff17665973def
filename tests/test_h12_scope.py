"""An account's matcher wrapped twice (inspection inside `owned_matching` takes the account's matcher
again) looks at the works both wrappers allow, and never raises."""

from __future__ import annotations

from pathlib import Path

from inkseal import Inkseal
from inkseal.imaging import load_image
from inkseal.web.scope import OwnedMatcher


def test_a_matcher_wrapped_twice_keeps_to_the_intersection(app: Inkseal, kodak: list[Path]) -> None:
    app.register(kodak[:2], author="Li")
    first, second = (w.id for w in app.works())
    picture = {first: load_image(kodak[0].read_bytes()), second: load_image(kodak[1].read_bytes())}
    assert [v.work_id for v in app.matcher.match(picture[second]) if v.tier == "copy"] == [second]

    twice = OwnedMatcher(OwnedMatcher(app.matcher, {first, second}), {first})
    assert [v.work_id for v in twice.match(picture[first]) if v.tier == "copy"] == [first]
    assert twice.match(picture[second]) == []
    assert OwnedMatcher(OwnedMatcher(app.matcher, {second}), {first}).match(picture[first]) == []
