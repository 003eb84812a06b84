"""Hotword boosting as a deterministic automaton over decoding units (words or characters).

A hotword (a word or a phrase) carries a bonus. While a hypothesis spells a hotword, each unit earns
its share of the bonus at once (so that the beam keeps the hypothesis before the hotword is complete);
a hypothesis that leaves the hotword unfinished pays the partial shares back. With overlapping hotwords
the automaton falls back to the longest suffix that still starts a hotword, like Aho-Corasick.

Units are ints (word indices of a lexicon, or token ids). In character mode a hotword must start at a
word boundary and is complete only when the word separator (or the end of the utterance) follows it.
"""

from __future__ import annotations

from collections.abc import Sequence

ROOT = 0
DEAD = -1  # character mode: inside a word that cannot start a hotword; waits for the next separator


class HotwordGraph:
    """Transitions ``step(node, unit) -> (gain, next_node)`` and ``finish(node) -> gain``.

    `phrases` are (unit sequence, bonus) pairs. `separator` (character mode) is the word-separator unit:
    matches start only after it, and every phrase is given a trailing separator that completes it.
    """

    def __init__(self, phrases: Sequence[tuple[Sequence[int], float]], separator: int | None = None) -> None:
        self.separator = separator
        self._children: list[dict[int, int]] = [{}]
        self._path: list[tuple[int, ...]] = [()]
        # potential[n]: share already paid out at node n; banked[n]: what stays earned if matching stops at n
        self._potential: list[float] = [0.0]
        self._banked: list[float] = [0.0]
        self._complete_bonus: dict[int, float] = {}
        for units, bonus in phrases:
            units = tuple(int(u) for u in units)
            if separator is not None:
                units = (*units, separator)
            if not units:
                continue
            node = ROOT
            for depth, unit in enumerate(units, start=1):
                child = self._children[node].get(unit)
                if child is None:
                    child = len(self._children)
                    self._children[node][unit] = child
                    self._children.append({})
                    self._path.append((*self._path[node], unit))
                    self._potential.append(float("-inf"))
                    self._banked.append(0.0)
                node = child
                self._potential[node] = max(self._potential[node], bonus * depth / len(units))
            self._complete_bonus[node] = max(self._complete_bonus.get(node, float("-inf")), bonus)
        # banked: the best complete hotword ending at a node or at one of its ancestors
        for node in range(1, len(self._children)):
            path = self._path[node]
            parent = self._node_of(path[:-1])
            self._banked[node] = max(self._banked[parent], self._complete_bonus.get(node, 0.0))
        self._cache: dict[tuple[int, int], tuple[float, int]] = {}

    def __bool__(self) -> bool:
        return len(self._children) > 1

    def native_table(self) -> tuple[list[float], list[float], list[tuple[int, int, int]]]:
        """The automaton for the native LM (asr/decoding/native, word mode only): per node its paid-out
        share and banked gain, and the (parent, unit, child) edges ordered by child (parents first)."""
        if self.separator is not None:
            raise ValueError("the native hotword table is for word mode (no separator)")
        edges = sorted(
            (
                (parent, unit, child)
                for parent, kids in enumerate(self._children)
                for unit, child in kids.items()
            ),
            key=lambda edge: edge[2],
        )
        return list(self._potential), list(self._banked), edges

    def _node_of(self, units: tuple[int, ...]) -> int | None:
        node = ROOT
        for unit in units:
            node = self._children[node].get(unit)
            if node is None:
                return None
        return node

    def _settle(self, node: int) -> float:
        """Gain when matching stops at `node`: keep what complete hotwords earned, return the rest."""
        return self._banked[node] - self._potential[node] if node > ROOT else 0.0

    def step(self, node: int, unit: int) -> tuple[float, int]:
        key = (node, unit)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._transition(node, unit)
        return cached

    def finish(self, node: int) -> float:
        """Gain at the end of the utterance (character mode: a pending hotword may complete there)."""
        if node <= ROOT:
            return 0.0
        if self.separator is not None:
            gain, _ = self.step(node, self.separator)
            return gain
        return self._settle(node)

    def _transition(self, node: int, unit: int) -> tuple[float, int]:
        sep = self.separator
        if node == DEAD:
            return (0.0, ROOT) if unit == sep else (0.0, DEAD)
        child = self._children[node].get(unit)
        if child is not None:
            gain = self._potential[child] - self._potential[node if node > ROOT else ROOT]
            if not self._children[child]:  # a leaf: the hotword is complete, lock it in
                return gain + self._settle(child), ROOT
            return gain, child
        # Mismatch: settle the partial match, then continue from the longest suffix that starts a hotword.
        gain = self._settle(node)
        units = (*self._path[node], unit)
        for start in range(1, len(units) + 1):
            if sep is not None and units[start - 1] != sep:
                continue  # character mode: a hotword starts only after a separator
            suffix = units[start:]
            target = self._node_of(suffix)
            if target is None:
                continue
            if target > ROOT and not self._children[target]:
                return gain + self._potential[target] + self._settle(target), ROOT
            return gain + (self._potential[target] if target > ROOT else 0.0), target
        if sep is not None:
            return gain, (ROOT if unit == sep else DEAD)
        return gain, ROOT
