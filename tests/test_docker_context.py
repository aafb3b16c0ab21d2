"""The port of pulumi-docker's build context digest, tested on the cases its authors test.

``components.docker_context`` ports ``hashContext`` (pulumi/pulumi-docker
``provider/provider.go``) with the parts of tonistiigi/fsutil and moby/patternmatcher it uses.
The tests below are the provider's own (``provider/provider_test.go``, ``TestHash*`` and
``TestIgnoreIrregularFiles``, on trees laid out like its ``provider/testdata``) and
patternmatcher v0.6.0's (``patternmatcher_test.go``, ``ignorefile/ignorefile_test.go``), each
named after the Go test it ports.

Where a test names a digest, it is what the provider's Go code printed for the same tree: its
``hashContext``, ``getIgnorePatterns`` and ``contextHashAccumulator`` compiled with
patternmatcher v0.6.0 and fsutil's ``filter.go``/``fs.go``/``stat.go`` at the commit
pulumi-docker pins (586307ad452f) and Go's standard library. The port must reproduce it
byte for byte, so the image tag changes exactly when the provider's ``contextDigest`` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.docker_context import (
    ContextError,
    PatternMatcher,
    context_digest,
    eval_symlinks,
    go_clean,
    go_mode_string,
    read_ignore_file,
)

DOCKERFILE = "FROM scratch\n\nWORKDIR /app\n\nCOPY ./bar .\n"
APP_JS = 'console.log("Pulumi 💜");\n'
FOO_SH = '#!/usr/bin/env bash\n\necho "Hello, World!"\n'
WILDCARD_IGNORE = (
    "# Ignore everything!\n*\n\n# Except changes to source data in this set of directories:\n"
    "!projects/*/src\n\n# This should therefore IGNORE projects/*/dist\n"
)


@dataclass(frozen=True)
class Link:
    target: str


def lay_out(root: Path, files: dict[str, str | tuple[str, int] | Link]) -> Path:
    """Write ``files`` (path: content, (content, mode) or Link) under ``root``."""
    for relative, spec in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, Link):
            os.symlink(spec.target, path)
            continue
        content, mode = (spec, 0o644) if isinstance(spec, str) else spec
        path.write_text(content)
        os.chmod(path, mode)
    return root


def digest(cwd: Path, context: str, dockerfile: str | None = None) -> str:
    return context_digest(context, dockerfile or f"{context}/Dockerfile", cwd)


# --- pulumi-docker provider/provider_test.go ------------------------------------------------------


class TestTheProvidersOwnCases:
    def test_hash_ignores_file(self, tmp_path):
        """TestHashIgnoresFile: files named in .dockerignore (itself included) do not count."""
        base = {"Dockerfile": DOCKERFILE, "bar/app.js": APP_JS, "foo.txt": "bar\n"}
        lay_out(tmp_path / "basedir", base)
        lay_out(
            tmp_path / "basedir-with-ignored-files",
            base
            | {
                ".dockerignore": ".dockerignore\nignored.txt\nbar/ignored.js\n",
                "ignored.txt": "",
                "bar/ignored.js": "",
            },
        )
        expected = "3291a2206c4b2dc6de6fa3c96711f3854d1328bf7e65f407f471780993b67ec0"
        assert digest(tmp_path, "basedir") == expected
        assert digest(tmp_path, "basedir-with-ignored-files") == expected

    @pytest.mark.parametrize("relative", [False, True], ids=["", "relative"])
    def test_hash_ignores_wildcards(self, tmp_path, relative):
        """TestHashIgnoresWildcards(Relative): `*` then `!projects/*/src` keeps only src."""
        base = {".dockerignore": WILDCARD_IGNORE, "Dockerfile": DOCKERFILE}
        src = "projects/foo/src/app.js"
        lay_out(tmp_path / "testdata/basedir", base | {src: APP_JS})
        lay_out(
            tmp_path / "testdata/basedir-modified-ignored-file",
            base | {src: APP_JS, "projects/foo/dist/app.js": "built\n", "other.txt": "x"},
        )
        lay_out(
            tmp_path / "testdata/basedir-modified-included-file",
            base | {src: 'console.log("💜 Pulumi (included)");\n'},
        )
        # The relative variant runs from a sibling directory, with ../testdata/... paths.
        cwd, prefix = (tmp_path / "pkg", "../testdata") if relative else (tmp_path, "testdata")
        cwd.mkdir(exist_ok=True)
        baseline = digest(cwd, f"{prefix}/basedir")
        assert baseline == "c89873368b678c8a300e6de79bed4d32f43f751a2aae71760caa3bf9133e3435"
        assert digest(cwd, f"{prefix}/basedir-modified-ignored-file") == baseline
        assert digest(cwd, f"{prefix}/basedir-modified-included-file") == (
            "dc28b119e153d08f27f6f7902223f941d1032972cc2b20826f4f399a31d074ff"
        )

    def test_hash_ignores_dockerfile_outside_dir_move(self, tmp_path):
        """TestHashIgnoresDockerfileOutsideDirMove: the Dockerfile counts by content only."""
        lay_out(
            tmp_path,
            {
                "app/foo.sh": FOO_SH,
                "step1.Dockerfile": DOCKERFILE,
                "step2.Dockerfile": DOCKERFILE,
            },
        )
        first = digest(tmp_path, "app", "step1.Dockerfile")
        assert first == "5e7618e1ddbbb468026b764cd39b6539a506c2368ca8449c7b1432f9ba3901c5"
        assert digest(tmp_path, "app", "step2.Dockerfile") == first

    def test_hash_renaming_matters(self, tmp_path):
        """TestHashRenamingMatters: the same content under another name is another context."""
        lay_out(tmp_path / "step1", {"Dockerfile": DOCKERFILE, "foo.a.txt": "Test\n"})
        lay_out(tmp_path / "step2", {"Dockerfile": DOCKERFILE, "foo.b.txt": "Test\n"})
        assert digest(tmp_path, "step1") == (
            "a4aec6566bb4c1ef98420c37878df464df5c9502e7d33dd14311a347d27e0fc5"
        )
        assert digest(tmp_path, "step2") == (
            "c711a26e6c8aacc7abd1db0d07c95463e7f3e05b7976e0613bae20bb4ebfe51c"
        )

    def test_hash_filemode_matters(self, tmp_path):
        """TestHashFilemodeMatters: chmod +x alone changes the digest."""
        lay_out(tmp_path / "step1", {"Dockerfile": DOCKERFILE, "foo.sh": (FOO_SH, 0o644)})
        lay_out(tmp_path / "step2-chmod-x", {"Dockerfile": DOCKERFILE, "foo.sh": (FOO_SH, 0o755)})
        assert digest(tmp_path, "step1") == (
            "fc21a17ac9dfe22826c4a731aa55f71924933f1afcef0f59d00dde1d03da5a76"
        )
        assert digest(tmp_path, "step2-chmod-x") == (
            "0efbbd8ed4dc8cd48e16670f966714b51bb15b56067865dd4bef16ae72b11505"
        )

    def test_hash_deep_symlinks(self, tmp_path):
        """TestHashDeepSymlinks: links into and out of subdirectories, and to a directory,
        count as the paths they resolve to."""
        lay_out(
            tmp_path / "symlinks",
            {
                "Dockerfile": DOCKERFILE,
                "linkedFromDeep.txt": "Hello,\n",
                "sub/dir/linkedFromTop.txt": "World!\n",
                "linkedToDeep.txt": Link("sub/dir/linkedFromTop.txt"),
                "proxy-for-sub": Link("sub"),
                "sub/dir/linkedToTop.txt": Link("../../linkedFromDeep.txt"),
            },
        )
        assert digest(tmp_path, "symlinks") == (
            "95fdfa53aef7dc2fd81596876120811ddb04f2dab0c388c8344f2376601a80a9"
        )

    def test_ignore_irregular_files(self, tmp_path):
        """TestIgnoreIrregularFiles: a named pipe counts by name and mode, and is never read
        (reading it would block)."""
        (tmp_path / "Dockerfile").write_text("")
        os.mkfifo(tmp_path / "pipe", 0o666)
        os.chmod(tmp_path / "pipe", 0o666)
        os.chmod(tmp_path / "Dockerfile", 0o600)
        assert context_digest(".", "Dockerfile", tmp_path) == (
            "833119f582011d36dccabea8e94df90e4db8ccad61ed48945bcfe54711cd80c0"
        )

    def test_hash_unignored_dirs(self, tmp_path):
        """TestHashUnignoredDirs: `*` then `!Dockerfile`, `!top-dir` is the whole context
        but the ignore file."""
        files = {
            "Dockerfile": DOCKERFILE,
            "top-dir/subdir/app.js": APP_JS,
            "top-dir/subdir/ignored.js": "",
        }
        lay_out(tmp_path / "basedir", files)
        lay_out(
            tmp_path / "basedir-with-unignored-files",
            files
            | {
                ".dockerignore": "# Ignore everything\n*\n\n#Unignore everything\n!Dockerfile\n!top-dir\n"
            },
        )
        expected = "b347e2ad13c6727f5121a9d24d397a1895e80bb61d779c6fa99fc9e1c548d8d3"
        assert digest(tmp_path, "basedir") == expected
        assert digest(tmp_path, "basedir-with-unignored-files") == expected


class TestWhatTheProviderDoesBeyondItsTests:
    def test_a_dangling_symlink_silently_drops_the_rest_of_its_directory(self, tmp_path):
        """fsutil turns the hash's not-exist error into SkipDir; WalkDir then skips the
        remaining entries of that directory without an error."""
        lay_out(
            tmp_path / "ctx",
            {"Dockerfile": DOCKERFILE, "a/b-link": Link("../missing"), "a/c.txt": "one"},
        )
        before = digest(tmp_path, "ctx")
        assert before == "60e88ed8982e93940118dbb380fd1d4e05640355c15aa725e2f97c667ce59fe9"
        (tmp_path / "ctx/a/c.txt").write_text("two")
        assert digest(tmp_path, "ctx") == before
        (tmp_path / "ctx/Dockerfile").write_text("FROM scratch\n")
        assert digest(tmp_path, "ctx") != before

    def test_a_symlink_counts_as_the_path_it_resolves_to_as_go_1_25_resolves_it(self, tmp_path):
        """filepath.EvalSymlinks as pulumi-docker's Go (1.25) has it: after a link to an
        absolute path, ".." stays at the root (Go 1.19 lost the root there)."""
        lay_out(tmp_path / "ctx", {"up": Link("/tmp/../etc"), "down": Link("../ctx/file")})
        (tmp_path / "ctx/file").write_text("x")
        assert eval_symlinks("ctx/up", tmp_path) == "/etc"
        assert eval_symlinks("ctx/down", tmp_path) == "ctx/file"

    def test_a_dockerfile_specific_ignore_file_wins(self, tmp_path):
        """getIgnorePatterns: <Dockerfile>.dockerignore before the context's .dockerignore."""
        lay_out(
            tmp_path / "ctx",
            {
                "Dockerfile": DOCKERFILE,
                "Dockerfile.dockerignore": "notes.txt\n",
                ".dockerignore": "*\n",
                "notes.txt": "one",
            },
        )
        before = digest(tmp_path, "ctx")
        assert before == "d7e527718dfaaa962caabfecfddb4aca58afc54ac77193c06f6448e023dda18e"
        (tmp_path / "ctx/notes.txt").write_text("two")
        assert digest(tmp_path, "ctx") == before
        (tmp_path / "ctx/other.txt").write_text("new")
        assert digest(tmp_path, "ctx") != before

    def test_a_malformed_pattern_is_an_error_like_the_providers_check(self, tmp_path):
        lay_out(tmp_path / "ctx", {"Dockerfile": DOCKERFILE, ".dockerignore": "[\n"})
        with pytest.raises(ContextError, match="syntax error in pattern"):
            digest(tmp_path, "ctx")


# --- moby/patternmatcher v0.6.0 patternmatcher_test.go ------------------------------------------


def matches(file: str, patterns: list[str]) -> bool:
    """patternmatcher.MatchesOrParentMatches(file, patterns)."""
    file = go_clean(file)
    matcher = PatternMatcher(patterns)
    if file == ".":
        return False
    return matcher.matches_using_parent_results(file, None)[0]


def matches_with_parent_results(matcher: PatternMatcher, text: str) -> bool:
    """The walk's way: each parent directory first, passing its match info down."""
    parent_path = os.path.dirname(text) or "."
    info: list[bool] | None = None
    if parent_path != ".":
        dirs = parent_path.split("/")
        for i in range(len(dirs)):
            _, info = matcher.matches_using_parent_results("/".join(dirs[: i + 1]), info)
    return matcher.matches_using_parent_results(text, info)[0]


# TestMatches's table (the Unix one: `a\*b` included).
MATCHES_CASES = [
    ("**", "file", True),
    ("**", "file/", True),
    ("**/", "file", True),
    ("**/", "file/", True),
    ("**", "/", True),
    ("**/", "/", True),
    ("**", "dir/file", True),
    ("**/", "dir/file", True),
    ("**", "dir/file/", True),
    ("**/", "dir/file/", True),
    ("**/**", "dir/file", True),
    ("**/**", "dir/file/", True),
    ("dir/**", "dir/file", True),
    ("dir/**", "dir/file/", True),
    ("dir/**", "dir/dir2/file", True),
    ("dir/**", "dir/dir2/file/", True),
    ("**/dir", "dir", True),
    ("**/dir", "dir/file", True),
    ("**/dir2/*", "dir/dir2/file", True),
    ("**/dir2/*", "dir/dir2/file/", True),
    ("**/dir2/**", "dir/dir2/dir3/file", True),
    ("**/dir2/**", "dir/dir2/dir3/file/", True),
    ("**file", "file", True),
    ("**file", "dir/file", True),
    ("**/file", "dir/file", True),
    ("**file", "dir/dir/file", True),
    ("**/file", "dir/dir/file", True),
    ("**/file*", "dir/dir/file", True),
    ("**/file*", "dir/dir/file.txt", True),
    ("**/file*txt", "dir/dir/file.txt", True),
    ("**/file*.txt", "dir/dir/file.txt", True),
    ("**/file*.txt*", "dir/dir/file.txt", True),
    ("**/**/*.txt", "dir/dir/file.txt", True),
    ("**/**/*.txt2", "dir/dir/file.txt", False),
    ("**/*.txt", "file.txt", True),
    ("**/**/*.txt", "file.txt", True),
    ("a**/*.txt", "a/file.txt", True),
    ("a**/*.txt", "a/dir/file.txt", True),
    ("a**/*.txt", "a/dir/dir/file.txt", True),
    ("a/*.txt", "a/dir/file.txt", False),
    ("a/*.txt", "a/file.txt", True),
    ("a/*.txt**", "a/file.txt", True),
    ("a[b-d]e", "ae", False),
    ("a[b-d]e", "ace", True),
    ("a[b-d]e", "aae", False),
    ("a[^b-d]e", "aze", True),
    (".*", ".foo", True),
    (".*", "foo", False),
    ("abc.def", "abcdef", False),
    ("abc.def", "abc.def", True),
    ("abc.def", "abcZdef", False),
    ("abc?def", "abcZdef", True),
    ("abc?def", "abcdef", False),
    ("a\\\\", "a\\", True),
    ("**/foo/bar", "foo/bar", True),
    ("**/foo/bar", "dir/foo/bar", True),
    ("**/foo/bar", "dir/dir2/foo/bar", True),
    ("abc/**", "abc", False),
    ("abc/**", "abc/def", True),
    ("abc/**", "abc/def/ghi", True),
    ("**/.foo", ".foo", True),
    ("**/.foo", "bar.foo", False),
    ("a(b)c/def", "a(b)c/def", True),
    ("a(b)c/def", "a(b)c/xyz", False),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", True),
    (
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        True,
    ),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True),
    ("a\\*b", "a*b", True),
]
MULTI_PATTERN_CASES = [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (
        ["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        False,
    ),
    (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", False),
]
ALL_CASES = [([p], t, ok) for p, t, ok in MATCHES_CASES] + MULTI_PATTERN_CASES


class TestPatternmatchersOwnCases:
    @pytest.mark.parametrize(("patterns", "text", "expected"), ALL_CASES)
    def test_matches_using_parent_results(self, patterns, text, expected):
        """TestMatches/MatchesUsingParentResults: as the walk calls it, parents first."""
        assert matches_with_parent_results(PatternMatcher(patterns), text) is expected

    @pytest.mark.parametrize(("patterns", "text", "expected"), ALL_CASES)
    def test_matches_using_parent_results_no_context(self, patterns, text, expected):
        """TestMatches/MatchesUsingParentResultsNoContext (= MatchesOrParentMatches)."""
        assert PatternMatcher(patterns).matches_using_parent_results(text, None)[0] is expected

    def test_simple_cases(self):
        """TestWildcardMatches, TestPatternMatches, TestExclusionPattern*,
        TestPatternMatchesFolder*Exclusions, TestExclusionPatternMatchesWholeDirectory,
        TestMatchesWithNoPatterns."""
        assert matches("fileutils.go", ["*"])
        assert matches("fileutils.go", ["*.go"])
        assert matches("fileutils.go", ["!fileutils.go", "*.go"])
        assert not matches("docs/README.md", ["docs", "!docs/README.md"])
        assert not matches("docs/README.md", ["docs/", "!docs/README.md"])
        assert not matches("docs/README.md", ["docs/*", "!docs/README.md"])
        assert not matches("fileutils.go", ["*.go", "!fileutils.go"])
        assert not matches(".", ["*.go"])
        assert not matches("/any/path/there", [])

    def test_single_exclamation_error(self):
        """TestSingleExclamationError, TestCleanPatternsErrorSingleException."""
        with pytest.raises(ContextError, match="illegal exclusion pattern"):
            PatternMatcher(["!"])

    def test_matches_with_malformed_patterns(self):
        """TestMatchesWithMalformedPatterns."""
        with pytest.raises(ContextError):
            matches("/any/path/there", ["["])

    def test_clean_patterns(self):
        """TestCleanPatterns, ...StripEmptyPatterns, ...ExceptionFlag, ...Leading/Trailing
        SpaceTrimmed."""
        assert len(PatternMatcher(["docs", "config"]).patterns) == 2
        assert len(PatternMatcher(["docs", "config", ""]).patterns) == 2
        assert PatternMatcher(["docs", "!docs/README.md"]).exclusions
        assert PatternMatcher(["docs", "  !docs/README.md"]).exclusions
        assert PatternMatcher(["docs", "!docs/README.md  "]).exclusions

    # matchTests (borrowed there from Go's filepath Match tests): pattern, name, match, error.
    @pytest.mark.parametrize(
        ("pattern", "name", "expected", "bad"),
        [
            ("abc", "abc", True, False),
            ("*", "abc", True, False),
            ("*c", "abc", True, False),
            ("a*", "a", True, False),
            ("a*", "abc", True, False),
            ("a*", "ab/c", True, False),
            ("a*/b", "abc/b", True, False),
            ("a*/b", "a/c/b", False, False),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", True, False),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True, False),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False, False),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False, False),
            ("a*b?c*x", "abxbbxdbxebxczzx", True, False),
            ("a*b?c*x", "abxbbxdbxebxczzy", False, False),
            ("ab[c]", "abc", True, False),
            ("ab[b-d]", "abc", True, False),
            ("ab[e-g]", "abc", False, False),
            ("ab[^c]", "abc", False, False),
            ("ab[^b-d]", "abc", False, False),
            ("ab[^e-g]", "abc", True, False),
            ("a\\*b", "a*b", True, False),
            ("a\\*b", "ab", False, False),
            ("a?b", "a☺b", True, False),
            ("a[^a]b", "a☺b", True, False),
            ("a???b", "a☺b", False, False),
            ("a[^a][^a][^a]b", "a☺b", False, False),
            ("[a-ζ]*", "\u03b1", True, False),  # Greek small alpha
            ("*[a-ζ]", "A", False, False),
            ("a?b", "a/b", False, False),
            ("a*b", "a/b", False, False),
            ("[\\]a]", "]", True, False),
            ("[\\-]", "-", True, False),
            ("[x\\-]", "x", True, False),
            ("[x\\-]", "-", True, False),
            ("[x\\-]", "z", False, False),
            ("[\\-x]", "x", True, False),
            ("[\\-x]", "-", True, False),
            ("[\\-x]", "a", False, False),
            ("[]a]", "]", False, True),
            ("[-]", "-", False, True),
            ("[x-]", "x", False, True),
            ("[x-]", "-", False, True),
            ("[x-]", "z", False, True),
            ("[-x]", "x", False, True),
            ("[-x]", "-", False, True),
            ("[-x]", "a", False, True),
            ("\\", "a", False, True),
            ("[a-b-c]", "a", False, True),
            ("[", "a", False, True),
            ("[^", "a", False, True),
            ("[^bc", "a", False, True),
            ("a[", "a", False, True),
            ("a[", "ab", False, True),
            ("*x", "xxx", True, False),
        ],
    )
    def test_match(self, pattern, name, expected, bad):
        """TestMatch: patternmatcher's version of filepath.Match, bad patterns refused."""
        if bad:
            with pytest.raises(ContextError):
                matches(name, [pattern])
        else:
            assert matches(name, [pattern]) is expected

    @pytest.mark.parametrize(
        ("pattern", "kind", "regexp"),
        [
            ("*", "regexp", "^[^/]*$"),
            ("file*", "regexp", "^file[^/]*$"),
            ("*file", "regexp", "^[^/]*file$"),
            ("a*/b", "regexp", "^a[^/]*/b$"),
            ("**", "suffix", ""),
            ("**/**", "regexp", "^(.*/)?.*$"),
            ("dir/**", "prefix", ""),
            ("**/dir", "suffix", ""),
            ("**/dir2/*", "regexp", "^(.*/)?dir2/[^/]*$"),
            ("**/dir2/**", "regexp", "^(.*/)?dir2/.*$"),
            ("**file", "suffix", ""),
            ("**/file*txt", "regexp", "^(.*/)?file[^/]*txt$"),
            ("**/**/*.txt", "regexp", "^(.*/)?(.*/)?[^/]*\\.txt$"),
            ("a[b-d]e", "regexp", "^a[b-d]e$"),
            (".*", "regexp", "^\\.[^/]*$"),
            ("abc.def", "exact", ""),
            ("abc?def", "regexp", "^abc[^/]def$"),
            ("**/foo/bar", "suffix", ""),
            ("a(b)c/def", "exact", ""),
            ("a.|)$(}+{bc", "exact", ""),
            ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "exact", ""),
        ],
    )
    def test_compile(self, pattern, kind, regexp):
        """TestCompile/slash: the match kind and, for regexps, the expression."""
        compiled = PatternMatcher([pattern]).patterns[0]
        compiled.compile()
        assert (compiled.kind, compiled.source) == (kind, regexp)


def test_read_all():
    """ignorefile TestReadAll: comments, blank lines, leading slashes, `!` with spaces."""
    content = (
        "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! "
    )
    assert read_ignore_file(content.encode()) == [
        "test1",
        "test2",
        "a/file/here",
        "lastfile",
        "!inverted/abs/path",
        "!",
        "!",
    ]


@pytest.mark.parametrize(
    ("mode", "text"),
    [
        (0o644, "-rw-r--r--"),
        (0o755, "-rwxr-xr-x"),
        (0, "----------"),
        (1 << 27 | 0o777, "Lrwxrwxrwx"),
        (1 << 31 | 0o755, "drwxr-xr-x"),
        (1 << 25 | 0o666, "prw-rw-rw-"),
        (1 << 23 | 0o755, "urwxr-xr-x"),
    ],
)
def test_file_mode_string(mode, text):
    """Go's fs.FileMode.String, which the digest hashes for each file."""
    assert go_mode_string(mode) == text


@pytest.mark.parametrize(
    ("path", "clean"),
    [
        ("", "."),
        ("abc/", "abc"),
        ("abc//def", "abc/def"),
        ("./abc", "abc"),
        ("abc/../..", ".."),
        ("/../abc", "/abc"),
        ("//abc", "/abc"),
        ("abc/./../def", "def"),
    ],
)
def test_path_clean(path, clean):
    """Go's path.Clean (cases from Go's path_test.go), which the ignore file goes through."""
    assert go_clean(path) == clean
