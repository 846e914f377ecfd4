"""A tiny state-machine kernel: states and events are ``StrEnum``s, transitions are data.

A transition may carry a guard, a small pure function of the *facts* the service gathered
(never I/O, never a clock). For one (state, event), guarded transitions are tried in order and
the first whose guard holds wins; an unguarded one may come last as the default. ``next`` never
changes anything: it answers with the next state or raises ``InvalidTransition``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from credflow.errors import InvalidTransition

__all__ = ["Machine", "Transition"]

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)
F = TypeVar("F")


@dataclass(frozen=True, slots=True)
class Transition(Generic[S, E, F]):
    """``source --event [guard]--> target``."""

    source: S
    event: E
    target: S
    guard: Callable[[F], bool] | None = None

    @property
    def label(self) -> str:
        """The guard's name as words (``next_is_question`` → ``next is question``)."""
        return "" if self.guard is None else self.guard.__name__.strip("_").replace("_", " ")


class Machine(Generic[S, E, F]):
    """A flow's states, events, initial states, terminal states and transition table."""

    def __init__(
        self,
        name: str,
        states: type[S],
        events: type[E],
        transitions: Iterable[Transition[S, E, F]],
        *,
        initial: Iterable[S],
        terminal: Iterable[S],
    ) -> None:
        self.name = name
        self.states = states
        self.events = events
        self.transitions: tuple[Transition[S, E, F], ...] = tuple(transitions)
        self.initial = tuple(initial)
        self.terminal = frozenset(terminal)
        self._index: dict[tuple[S, E], list[Transition[S, E, F]]] = {}
        for transition in self.transitions:
            if transition.source in self.terminal:
                raise ValueError(f"{name}: terminal state {transition.source} has a transition")
            options = self._index.setdefault((transition.source, transition.event), [])
            if options and options[-1].guard is None:
                raise ValueError(f"{name}: unreachable transition after a default")
            options.append(transition)

    def next(self, state: S, event: E, facts: F) -> S:
        """The state that ``event`` leads to from ``state`` given ``facts``."""
        for transition in self._index.get((state, event), ()):
            if transition.guard is None or transition.guard(facts):
                return transition.target
        raise InvalidTransition(self.name, str(state), str(event))

    def accepts(self, state: S, event: E) -> bool:
        """True when the table has a transition for ``(state, event)``."""
        return (state, event) in self._index

    def targets(self, state: S, event: E) -> tuple[S, ...]:
        """Every state ``event`` may lead to from ``state`` (depending on guards)."""
        return tuple(t.target for t in self._index.get((state, event), ()))

    def mermaid(self) -> str:
        """The table drawn as a Mermaid ``stateDiagram-v2``."""
        lines = ["stateDiagram-v2"]
        lines += [f"    [*] --> {state.value}" for state in self.initial]
        for t in self.transitions:
            label = t.event.value + (f" [{t.label}]" if t.guard is not None else "")
            lines.append(f"    {t.source.value} --> {t.target.value}: {label}")
        lines += [f"    {state.value} --> [*]" for state in self.states if state in self.terminal]
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return f"Machine({self.name!r}, {len(self.transitions)} transitions)"


AnyMachine = Machine[Any, Any, Any]
