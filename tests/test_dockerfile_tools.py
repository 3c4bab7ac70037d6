"""The Dockerfile/.dockerignore reader that tests/test_image.py relies on follows Docker's rules."""

from tests.dockerfile import DockerIgnore, parse_dockerfile, parse_env


def test_dockerignore_patterns_are_anchored_at_the_context_root():
    ignore = DockerIgnore("tests\n")
    assert ignore.ignored("tests") and ignore.ignored("tests/test_x.py")
    assert not ignore.ignored("zupy/tests/test_x.py")  # unlike .gitignore


def test_double_star_crosses_folders_and_single_star_does_not():
    ignore = DockerIgnore("**/__pycache__\n*.pyc\n")
    assert ignore.ignored("__pycache__/a.pyc") and ignore.ignored("zupy/api/__pycache__/a.cpython.pyc")
    assert ignore.ignored("top.pyc") and not ignore.ignored("zupy/deep.pyc")


def test_exclusions_re_include_and_the_last_matching_line_wins():
    ignore = DockerIgnore("docs\n!docs/keep.md\n# a comment\n/var/\n")
    assert ignore.ignored("docs/other.md") and not ignore.ignored("docs/keep.md")
    assert ignore.ignored("var/zupy.sqlite3")


def test_dockerfile_lines_continue_and_env_takes_several_pairs():
    steps = parse_dockerfile('# c\nFROM python:3.11-slim\nENV A=1 \\\n    B="two words"\nCMD ["x", "y"]\n')
    assert [s.name for s in steps] == ["FROM", "ENV", "CMD"]
    assert parse_env(steps[1].args) == {"A": "1", "B": "two words"}
    assert steps[2].exec_form() == ["x", "y"]
