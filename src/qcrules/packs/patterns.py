"""`matches(field, "regex")` that cannot hang: patterns are checked when a pack loads, and
matched by the `regex` package, whose matcher guards repeats against runaway backtracking.

Python's `re` backtracks without bound: `(a+)+b` on forty a's, or `(a|aa)+b`, runs for
minutes, and a rule pack is text anyone on the team can edit. So a pattern is refused at
load (a pack error, exit 4, with its position) when it

- is longer than `MAX_PATTERN` characters,
- repeats something that itself repeats (`(a+)+`, `(\\w*\\s?)*`, `(a{1,9}){2,}`),
- repeats an alternation (`(a|aa)+`, `(男|女)*`) — write a class `[男女]*` instead,
- uses a backreference (`\\1`, `(?P=name)`),

and the remaining patterns are matched by `regex` (the same syntax and Unicode classes as
`re`), whose repeat guards keep polynomial cases such as `.*a.*a.*a.*b` fast. Both readings
(durable-rules and plain Python) call `compile_pattern`, so they match alike.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
from collections.abc import Callable
from functools import cache

import regex

MAX_PATTERN = 500
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", None))
_HELP = (
    "matches() refuses patterns that can backtrack without end: no repetition of something "
    "that repeats ((a+)+), no repeated alternation ((a|b)* → [ab]*), no backreference; "
    'e.g. ".*穿搭.*" for "contains 穿搭"'
)


class PatternProblem(Exception):
    """Why a pattern is refused; `offset` is the character of the pattern it points at."""

    def __init__(self, message: str, offset: int = 0, help: str = _HELP) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.help = help


def check_pattern(pattern: str) -> None:
    """Raise PatternProblem when `pattern` is not a regex, or one that could hang."""
    if len(pattern) > MAX_PATTERN:
        raise PatternProblem(
            f"the pattern has {len(pattern)} characters; at most {MAX_PATTERN}",
            MAX_PATTERN,
            "shorten it, or split the rule",
        )
    try:
        re.compile(pattern)
    except re.error as exc:
        raise PatternProblem(
            f"invalid regex: {exc.msg}",
            exc.pos or 0,
            'Python regex syntax, matched against the whole text: ".*达人.*" for contains',
        ) from None
    except (RecursionError, OverflowError, ValueError) as exc:
        raise PatternProblem(f"invalid regex: {exc}", 0) from None
    try:
        _walk(sre_parse.parse(pattern), in_repeat=False)
    except RecursionError:
        raise PatternProblem("the pattern nests too deeply", 0) from None
    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise PatternProblem(f"invalid regex: {exc}", getattr(exc, "pos", None) or 0) from None


def _walk(items, *, in_repeat: bool) -> None:
    for op, arg in items:
        if op in _REPEATS:
            _low, high, body = arg
            repeats = high is sre.MAXREPEAT or high > 1
            if repeats and in_repeat:
                raise PatternProblem("a repetition inside a repetition can backtrack without end")
            _walk(body, in_repeat=in_repeat or repeats)
        elif op is sre.SUBPATTERN:
            _walk(arg[-1], in_repeat=in_repeat)
        elif op is sre.BRANCH:
            if in_repeat:
                raise PatternProblem("a repeated alternation (a|b)* can backtrack without end")
            for branch in arg[1]:
                _walk(branch, in_repeat=in_repeat)
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            _walk(arg[1], in_repeat=in_repeat)
        elif op is sre.GROUPREF_EXISTS:
            raise PatternProblem("conditional groups (?(1)…) are not supported")
        elif op is sre.GROUPREF:
            raise PatternProblem("backreferences (\\1, (?P=name)) are not supported")
        elif op is getattr(sre, "ATOMIC_GROUP", None):
            _walk(arg, in_repeat=in_repeat)


@cache
def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """`text → whether pattern matches the whole text`, for a pattern `check_pattern` took."""
    fullmatch = regex.compile(pattern).fullmatch
    return lambda text: fullmatch(text) is not None
