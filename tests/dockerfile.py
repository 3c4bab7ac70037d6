"""Reading a Dockerfile and a .dockerignore the way Docker does, for tests that replay the image
without a container engine (tests/test_image.py).

Why not ``pathspec``'s gitwildmatch: .dockerignore is not .gitignore. Docker anchors every pattern at
the context root (``tests`` excludes ``./tests`` only, never ``zupy/tests``), has no special meaning for
a trailing ``/``, and excludes a file when the pattern matches it or any folder above it (moby's
patternmatcher ``MatchesOrParentMatches``). These few rules are below, straight from Docker's
documentation: ``*`` any run of non-separators, ``?`` one non-separator, ``**`` any number of folders,
``!`` re-includes, the last matching line wins; lines are cleaned like Go's ``filepath.Clean``.
"""

import json
import os
import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    name: str  # upper case
    args: str  # the rest of the logical line, continuations joined

    def exec_form(self) -> list[str] | None:
        """The JSON array of CMD/RUN/ENTRYPOINT's exec form, or None for shell form."""
        if self.args.startswith("["):
            return json.loads(self.args)
        return None


def parse_dockerfile(text: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # comments inside a continued instruction are dropped
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical = (pending + line).strip()
        pending = ""
        name, _, args = logical.partition(" ")
        instructions.append(Instruction(name.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def parse_env(args: str) -> dict[str, str]:
    """ENV key=value ... (the legacy ``ENV key value`` form too)."""
    words = shlex.split(args)
    if "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    exclusion: bool


def _compile(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            # "**/" matches any number of folders, none included; a final "**" anything.
            if pattern.startswith("**/", i):
                out += "(?:.*/)?"
                i += 3
            else:
                out += ".*"
                i += 2
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", i)
            out += "[" + pattern[i + 1 : end].replace("!", "^", 1) + "]"
            i = end
        elif char == "\\":
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out + r"\Z")


class DockerIgnore:
    def __init__(self, text: str) -> None:
        self.patterns: list[_Pattern] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            if exclusion:
                line = line[1:].strip()
            cleaned = posixpath.normpath(line).lstrip("/")
            if cleaned in ("", "."):
                continue
            self.patterns.append(_Pattern(_compile(cleaned), exclusion))

    @property
    def has_exclusions(self) -> bool:
        return any(p.exclusion for p in self.patterns)

    def ignored(self, path: str) -> bool:
        """``path``: relative to the context root, with ``/``."""
        parts = path.split("/")
        candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        result = False
        for pattern in self.patterns:
            if any(pattern.regex.match(candidate) for candidate in candidates):
                result = not pattern.exclusion
        return result


def context_files(context: Path, ignore: DockerIgnore) -> Iterator[str]:
    """Every file of the build context that COPY can see, relative, sorted."""
    found: list[str] = []
    for folder, dirs, files in os.walk(context):
        rel_folder = Path(folder).relative_to(context).as_posix()
        prefix = "" if rel_folder == "." else rel_folder + "/"
        if not ignore.has_exclusions:  # Docker's own shortcut: an ignored folder is not entered
            dirs[:] = [d for d in dirs if not ignore.ignored(prefix + d)]
        found += [prefix + f for f in files if not ignore.ignored(prefix + f)]
    return iter(sorted(found))
