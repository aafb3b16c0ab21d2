"""The build context digest exactly as pulumi-docker computes it, so the image tag follows it.

Creates no resource. pulumi-docker's ``Image`` (v4 API) adds ``build.contextDigest`` to its
inputs in ``Check`` and rebuilds and re-pushes the image whenever any ``build`` input changes
(``Diff``). The program names the image with a tag made from the same digest, so the tag
changes if and only if the provider would rebuild: an unchanged ``app/`` keeps its tag (an
ECR repository with immutable tags never sees the same tag pushed twice), and any change the
provider would build also gets a new tag.

Ported from pulumi/pulumi-docker ``provider/provider.go`` (``hashContext``,
``contextHashAccumulator.hashPath``, ``getIgnorePatterns``), with the pieces it calls:

* the ignore file: moby/patternmatcher v0.6.0 ``ignorefile.ReadAll``;
* the walk: tonistiigi/fsutil ``Walk`` (``filter.go`` ``filterFS.Walk``, ``fs.go`` ``fs.Walk``,
  ``stat.go`` ``mkstat``) at the version pulumi-docker pins (586307ad452f), which skips what
  the exclude patterns match with moby/patternmatcher v0.6.0 (``patternmatcher.go`` ``New``,
  ``Pattern.compile``, ``Pattern.match``, ``MatchesUsingParentResults``);
* Go's standard library where the result depends on it: ``path.Clean``, ``filepath.Match``'s
  syntax check, ``filepath.EvalSymlinks`` (``walkSymlinks``), ``os.Lstat``'s ``FileMode`` and
  ``FileMode.String``, and ``filepath.WalkDir``'s order (each directory's entries sorted by
  name, depth first).

What follows from it: each file's path relative to the context, its mode (``-rwxr-xr-x``) and
its content count; a symlink counts as the path it resolves to; a ``.dockerignore`` pattern is
anchored at the context root (``tests`` ignores ``tests`` and everything under it, not
``api/tests``), ``**`` matches any number of directories, and a later ``!pattern`` takes a path
back; ``<Dockerfile>.dockerignore`` wins over the context's ``.dockerignore``; the Dockerfile is
hashed first under the name ``Dockerfile`` whatever its path, and again under its own name if
it lies in the context and is not ignored.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class ContextError(ValueError):
    """The build context cannot be hashed (as the provider's ``Check`` would fail on it)."""


# --- Go's path.Clean (path/path.go), for '/'-separated paths. ----------------------------------


def go_clean(path: str) -> str:
    """``path.Clean``: the shortest equivalent path, by purely lexical processing."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


# Go's unicode.IsSpace, which strings.TrimSpace uses (Python's str.strip also strips \x1c-\x1f).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _trim_space(text: str) -> str:
    return text.strip(_GO_SPACE)


# --- moby/patternmatcher ignorefile.ReadAll ------------------------------------------------------


def read_ignore_file(data: bytes) -> list[str]:
    """``ignorefile.ReadAll``: the patterns of a ``.dockerignore``, cleaned, in order."""
    text = data.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # bufio.ScanLines yields no empty last line
    patterns: list[str] = []
    for number, line in enumerate(lines):
        if line.endswith("\r"):
            line = line[:-1]  # ScanLines drops a trailing \r
        if number == 0:
            line = line.removeprefix("\ufeff")  # the UTF-8 BOM
        # A comment only when '#' is the line's very first character, before any trimming.
        if line.startswith("#"):
            continue
        pattern = _trim_space(line)
        if pattern == "":
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = _trim_space(pattern[1:])
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


# --- Go's filepath.Match (path/filepath/match.go), which patternmatcher.New calls as
# filepath.Match(pattern, ".") only to refuse a malformed pattern. ------------------------------

_BAD_PATTERN = "syntax error in pattern"


def _get_esc(chunk: str) -> tuple[str, str]:
    if not chunk or chunk[0] in "-]":
        raise ContextError(_BAD_PATTERN)
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise ContextError(_BAD_PATTERN)
    char, rest = chunk[0], chunk[1:]
    if not rest:
        raise ContextError(_BAD_PATTERN)
    return char, rest


def _match_chunk(chunk: str, s: str) -> tuple[str, bool]:
    """``matchChunk``: after a failed match it goes on only to check the chunk's syntax."""
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        head = chunk[0]
        if head == "[":
            r = ""
            if not failed:
                r, s = s[0], s[1:]
            chunk = chunk[1:]
            negated = chunk[:1] == "^"
            if negated:
                chunk = chunk[1:]
            match, ranges = False, 0
            while True:
                if chunk[:1] == "]" and ranges > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == "-":
                    hi, chunk = _get_esc(chunk[1:])
                if lo <= r <= hi:
                    match = True
                ranges += 1
            if match == negated:
                failed = True
        elif head == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
        else:
            if head == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise ContextError(_BAD_PATTERN)
            if not failed:
                if chunk[0] != s[0]:
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
    if failed:
        return "", False
    return s, True


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern[:1] == "*":
        pattern, star = pattern[1:], True
    in_range, i = False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif c == "[":
            in_range = True
        elif c == "]":
            in_range = False
        elif c == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def go_match(pattern: str, name: str) -> bool:
    """``filepath.Match``; raises ``ContextError`` where Go returns ErrBadPattern."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and chunk == "":
            return "/" not in name
        rest, ok = _match_chunk(chunk, name)
        if ok and (not rest or pattern):
            name = rest
            continue
        if star:
            found = False
            i = 0
            while i < len(name) and name[i] != "/":
                rest, ok = _match_chunk(chunk, name[i + 1 :])
                if ok:
                    if not pattern and rest:
                        i += 1
                        continue
                    name, found = rest, True
                    break
                i += 1
            if found:
                continue
        return False
    return not name


# --- moby/patternmatcher v0.6.0 ------------------------------------------------------------------

_ESCAPE = set(".+()|{}$")


@dataclass
class Pattern:
    """``patternmatcher.Pattern``: one cleaned pattern and how it matches a path."""

    cleaned: str
    exclusion: bool
    kind: str = ""  # exact, prefix, suffix or regexp, decided by compile()
    regexp: re.Pattern[str] | None = None
    source: str = ""  # the regular expression as Go's compile writes it

    def compile(self) -> None:
        regex = "^"
        pattern = self.cleaned
        kind = "exact"
        i = pos = 0
        while pos < len(pattern):
            ch = pattern[pos]
            pos += 1
            if ch == "*":
                if pattern[pos : pos + 1] == "*":
                    pos += 1
                    if pattern[pos : pos + 1] == "/":  # treat **/ as **
                        pos += 1
                    if pos >= len(pattern):
                        if kind == "exact":
                            kind = "prefix"
                        else:
                            regex += ".*"
                            kind = "regexp"
                    else:
                        regex += "(.*/)?"
                        kind = "regexp"
                    if i == 0:
                        kind = "suffix"
                else:
                    regex += "[^/]*"
                    kind = "regexp"
            elif ch == "?":
                regex += "[^/]"
                kind = "regexp"
            elif ch in _ESCAPE:
                regex += "\\" + ch
            elif ch == "\\":
                if pos < len(pattern):
                    regex += "\\" + pattern[pos]
                    pos += 1
                    kind = "regexp"
                else:
                    regex += "\\\\"
            elif ch in "[]":
                regex += ch
                kind = "regexp"
            else:
                regex += ch
            i += 1
        self.kind = kind
        if kind == "regexp":
            self.source = regex + "$"
            # Go's "$" is the end of the text; Python's also matches before a final newline.
            try:
                self.regexp = re.compile(regex + r"\Z")
            except re.error as exc:
                raise ContextError(f"bad pattern {self.cleaned!r}: {exc}") from None

    def match(self, path: str) -> bool:
        if not self.kind:
            self.compile()
        if self.kind == "exact":
            return path == self.cleaned
        if self.kind == "prefix":
            return path.startswith(self.cleaned[:-2])
        if self.kind == "suffix":
            suffix = self.cleaned[2:]
            if path.endswith(suffix):
                return True
            return suffix[:1] == "/" and path == suffix[1:]
        assert self.regexp is not None
        return self.regexp.match(path) is not None

    def without_trailing_glob(self) -> str:
        """fsutil ``patternWithoutTrailingGlob``."""
        text = self.cleaned.removesuffix("/**")
        return text.removesuffix("/*")


class PatternMatcher:
    """``patternmatcher.PatternMatcher`` (New, MatchesUsingParentResults, Exclusions)."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[Pattern] = []
        self.exclusions = False
        for raw in patterns:
            text = _trim_space(raw)
            if text == "":
                continue
            text = go_clean(text)
            exclusion = text[0] == "!"
            if exclusion:
                if len(text) == 1:
                    raise ContextError('illegal exclusion pattern: "!"')
                text = text[1:]
                self.exclusions = True
            go_match(text, ".")  # only for its syntax check, as New does
            self.patterns.append(Pattern(text, exclusion))

    def matches_using_parent_results(
        self, path: str, parent: list[bool] | None
    ) -> tuple[bool, list[bool]]:
        matched = False
        info = [False] * len(self.patterns)
        for i, pattern in enumerate(self.patterns):
            match = bool(parent) and parent[i]  # type: ignore[index]
            if not match:
                if pattern.exclusion != matched:
                    continue
                match = pattern.match(path)
                if not match and not parent:
                    # No information about the parent: check every parent directory.
                    parent_path = os.path.dirname(path) or "."
                    if parent_path != ".":
                        dirs = parent_path.split("/")
                        for j in range(len(dirs)):
                            if pattern.match("/".join(dirs[: j + 1])):
                                match = True
                                break
            info[i] = match
            if match:
                matched = not pattern.exclusion
        return matched, info


# --- Go's os.Lstat FileMode and FileMode.String --------------------------------------------------

_MODE_DIR = 1 << 31
_MODE_SYMLINK = 1 << 27
_MODE_DEVICE = 1 << 26
_MODE_NAMED_PIPE = 1 << 25
_MODE_SOCKET = 1 << 24
_MODE_SETUID = 1 << 23
_MODE_SETGID = 1 << 22
_MODE_CHAR_DEVICE = 1 << 21
_MODE_STICKY = 1 << 20
_MODE_IRREGULAR = 1 << 19
_MODE_TYPE = (
    _MODE_DIR
    | _MODE_SYMLINK
    | _MODE_NAMED_PIPE
    | _MODE_SOCKET
    | _MODE_DEVICE
    | _MODE_CHAR_DEVICE
    | _MODE_IRREGULAR
)


def go_file_mode(st_mode: int) -> int:
    """``os.Lstat(...).Mode()`` on Unix (os/stat_linux.go ``fillFileStatFromSys``)."""
    mode = st_mode & 0o777
    fmt = stat.S_IFMT(st_mode)
    mode |= {
        stat.S_IFBLK: _MODE_DEVICE,
        stat.S_IFCHR: _MODE_DEVICE | _MODE_CHAR_DEVICE,
        stat.S_IFDIR: _MODE_DIR,
        stat.S_IFIFO: _MODE_NAMED_PIPE,
        stat.S_IFLNK: _MODE_SYMLINK,
        stat.S_IFSOCK: _MODE_SOCKET,
    }.get(fmt, 0)
    if st_mode & stat.S_ISGID:
        mode |= _MODE_SETGID
    if st_mode & stat.S_ISUID:
        mode |= _MODE_SETUID
    if st_mode & stat.S_ISVTX:
        mode |= _MODE_STICKY
    return mode


def go_mode_string(mode: int) -> str:
    """``fs.FileMode.String``: type letters, then rwxrwxrwx."""
    letters = "".join(c for i, c in enumerate("dalTLDpSugct?") if mode & (1 << (31 - i)))
    perms = "".join(c if mode & (1 << (8 - i)) else "-" for i, c in enumerate("rwxrwxrwx"))
    return (letters or "-") + perms


# --- Go's filepath.EvalSymlinks (walkSymlinks in path/filepath/symlink.go), on Unix ------------


def eval_symlinks(path: str, cwd: Path) -> str:
    """The path with every symlink resolved; relative stays relative (to ``cwd``), like Go's."""

    def lstat(p: str) -> os.stat_result:
        return os.lstat(cwd / p if p else cwd)

    vol_len = 1 if path.startswith("/") else 0
    dest = path[:vol_len]
    links = 0
    start = end = vol_len
    while start < len(path):
        while start < len(path) and path[start] == "/":
            start += 1
        end = start
        while end < len(path) and path[end] != "/":
            end += 1
        part = path[start:end]
        if end == start:
            break
        if part == ".":
            start = end
            continue
        if part == "..":
            r = dest.rfind("/", vol_len)
            if r < vol_len or dest[r + 1 :] == "..":
                if len(dest) > vol_len:
                    dest += "/"
                dest += ".."
            else:
                dest = dest[:r]
            start = end
            continue
        if len(dest) > 0 and dest[-1] != "/":
            dest += "/"
        dest += part
        info = lstat(dest)
        if not stat.S_ISLNK(info.st_mode):
            if not stat.S_ISDIR(info.st_mode) and end < len(path):
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", dest)
            start = end
            continue
        links += 1
        if links > 255:
            raise ContextError(f"{path}: too many links")
        link = os.readlink(cwd / dest)
        path = link + path[end:]
        if link.startswith("/"):
            # Go 1.20 and later (pulumi-docker builds with 1.25) also make "/" the volume, so
            # a ".." right after it stays at the root; Go 1.19 did not.
            dest, end, vol_len = "/", 1, 1
        else:
            r = dest.rfind("/", vol_len)
            dest = dest[:vol_len] if r < vol_len else dest[:r]
            end = 0
        start = end
    return go_clean(dest)


# --- fsutil.Walk with ExcludePatterns, and hashContext ------------------------------------------


def _walk(root: Path, matcher: PatternMatcher | None, report: Callable[[str, int], None]) -> None:
    """Call ``report(relative path, Go file mode)`` for every non-directory fsutil.Walk reports.

    ``filterFS.Walk`` with exclude patterns only: an excluded directory is not entered unless
    some ``!`` exception could match below it; an excluded file is left out. When ``report``
    fails because a path does not exist (a dangling symlink), fsutil turns the error into
    ``filepath.SkipDir``, and ``filepath.WalkDir`` then skips the rest of that directory
    without an error: the provider's digest silently leaves those files out, and so does this.
    """
    prefix_exceptions_only = matcher is None or not any(
        p.exclusion and any(c in p.without_trailing_glob() for c in "*[]?^\\")
        for p in matcher.patterns
    )

    def visit(directory: Path, relative: str, parent_info: list[bool] | None) -> None:
        try:
            names = sorted(os.listdir(directory), key=os.fsencode)
        except OSError as exc:
            raise ContextError(f"cannot read {relative or '.'}: {exc.strerror}") from None
        for name in names:
            path = f"{relative}/{name}" if relative else name
            info = os.lstat(directory / name)
            is_dir = stat.S_ISDIR(info.st_mode)
            excluded, match_info = False, None
            if matcher is not None:
                excluded, match_info = matcher.matches_using_parent_results(path, parent_info)
                if excluded and is_dir and prefix_exceptions_only:
                    if not matcher.exclusions:
                        continue
                    dir_slash = path + "/"
                    if not any(
                        p.exclusion and (p.without_trailing_glob() + "/").startswith(dir_slash)
                        for p in matcher.patterns
                    ):
                        continue
            if is_dir:
                visit(directory / name, path, match_info)
            elif not excluded:
                try:
                    # fsutil's mkstat clears the socket bit.
                    report(path, go_file_mode(info.st_mode) & ~_MODE_SOCKET)
                except (FileNotFoundError, NotADirectoryError):
                    return

    real_root = Path(os.path.realpath(root))
    if not real_root.is_dir():
        raise ContextError(f"{root}: not a directory")
    visit(real_root, "", None)


def ignore_patterns(context: str, dockerfile: str, cwd: Path) -> list[str]:
    """``getIgnorePatterns``: ``<dockerfile>.dockerignore`` if present, else the context's."""
    for candidate in (dockerfile + ".dockerignore", os.path.join(context, ".dockerignore")):
        try:
            data = (cwd / candidate).read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ContextError(f"reading {candidate!r}: {exc.strerror}") from None
        return read_ignore_file(data)
    return []


def context_digest(context: str, dockerfile: str, cwd: Path | None = None) -> str:
    """``hashContext(context, dockerfile)`` run in ``cwd`` (the provider runs in the project
    directory): the hex SHA-256 that becomes ``build.contextDigest``."""
    cwd = Path.cwd() if cwd is None else cwd
    patterns = ignore_patterns(context, dockerfile, cwd)
    matcher = PatternMatcher(patterns) if patterns else None
    accumulator = bytearray()

    def add(file_path: str, relative_name: str, mode: int) -> None:
        digest = hashlib.sha256()
        if mode & _MODE_TYPE == _MODE_SYMLINK:
            # The path the link resolves to, not its target's content.
            digest.update(os.fsencode(eval_symlinks(file_path, cwd)))
        elif mode & _MODE_TYPE == 0:  # FileMode.IsRegular
            digest.update((cwd / file_path).read_bytes())
        accumulator.extend(os.fsencode(go_clean(relative_name)))
        accumulator.extend(go_mode_string(mode).encode())
        accumulator.extend(digest.digest())
        accumulator.append(0)

    try:
        # The Dockerfile first, always under the name "Dockerfile" and with mode 0.
        add(dockerfile, "Dockerfile", 0)
    except OSError as exc:
        raise ContextError(f"error hashing dockerfile {dockerfile!r}: {exc.strerror}") from None
    try:
        _walk(
            cwd / context,
            matcher,
            lambda relative, mode: add(os.path.join(context, relative), relative, mode),
        )
    except OSError as exc:
        raise ContextError(f"unable to hash build context: {exc}") from None
    return hashlib.sha256(bytes(accumulator)).hexdigest()
