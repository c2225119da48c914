"""docs/dialog.md is the machine as it is: regenerate it with `tikiti dialog diagram`."""

from __future__ import annotations

from pathlib import Path

from tikiti.dialogs import diagram
from tikiti.dialogs.engine import SCREENS
from tikiti.dialogs.machine import JUMP_ONLY, TRANSITIONS, State

DOC = Path(__file__).resolve().parents[2] / "docs" / "dialog.md"


def test_the_committed_diagram_matches_the_machine() -> None:
    assert DOC.read_text() == diagram.markdown()


def test_every_state_can_be_reached_and_every_state_has_a_way_out() -> None:
    sources = {spec["source"] for spec in TRANSITIONS}
    dests = {spec["dest"] for spec in TRANSITIONS}
    assert {s.value for s in State} == sources
    jumped = {s.value for s in JUMP_ONLY}
    assert {s.value for s in State} - {State.HOME.value} - jumped <= dests


def test_every_state_has_a_screen() -> None:
    assert set(SCREENS) == {s.value for s in State}
