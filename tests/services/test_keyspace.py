"""User ids never meet in a Redis key, whatever characters they hold (issue 10.6)."""

from __future__ import annotations

import pytest

from voice_mcp.services.keyspace import user_key, user_part


@pytest.mark.parametrize(("a", "b"), [
    (("alice", "x:c1"), ("alice:x", "c1")),
    (("a", "b:c"), ("a:b", "c")),
    (("", "x"), (":", "")),
])
def test_user_and_rest_cannot_shift_into_each_other(a: tuple[str, str],
                                                    b: tuple[str, str]) -> None:
    assert user_key("vm:hist", a[0], a[1]) != user_key("vm:hist", b[0], b[1])


def test_the_user_part_is_fixed_length_and_colon_free() -> None:
    for user in ("alice", "alice:x", "ü" * 300, "\x00", ""):
        part = user_part(user)
        assert len(part) == 32 and ":" not in part and part.isalnum()
