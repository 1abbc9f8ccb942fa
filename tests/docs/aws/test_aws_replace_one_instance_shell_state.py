"""AWS replace-one-instance across shells: the state file lets a lost shell resume without marking twice,
records the end for the canary check, is archived at the end so a finished procedure is not resumed, shows
its date when reloaded, and a re-run or refusal says what happened (run in bash against a stub `aws`); a
replacement already under way saves the instance too; every runbook asks for bash and no command line ends
in a comment (zsh without interactivecomments runs `#`).

Held on the rendered runbook of every AWS environment: figures and names are read from the synthesized
template or botocore's models (installed SDK), never from the generator; each check is also shown failing on
the runbook mutated back the way an older output was."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.docs.aws.aws_replace_one import (
    ENVIRONMENTS,
    STATE,
    _bash,
    _command,
    _indent,
    _shell,
    reload_lines,
    runbook,
    step_with,
    steps,
)
from tests.docs.runbook_harness import SH_BLOCK, section


def marking_runs(text: str, tmp_path: Path) -> tuple[int, str]:
    """Step 3 and the marking step in one shell, then the shell is lost: a new one runs the names block's
    reload and the marking step again. Returns how many times set-instance-health ran, and the second
    shell's output."""
    all_steps = steps(text)
    name = next(s["command"] for s in all_steps if "describe-auto-scaling-instances" in s["command"])
    mark = next(s["command"] for s in all_steps if "set-instance-health" in s["command"])
    name = name.replace("<id from step 1>", "i-0123456789abcdef0")
    first = _shell(tmp_path, "\n".join([reload_lines(text), name, mark]))
    assert first.returncode == 0 or "marked at" in first.stdout, first.stderr
    second = _shell(tmp_path, "\n".join([reload_lines(text), mark]))
    calls = (tmp_path / "calls").read_text().splitlines()
    return sum("set-instance-health" in call for call in calls), second.stdout


def test_a_lost_shell_does_not_mark_twice(documents, tmp_path):
    for environment in ENVIRONMENTS:
        run = tmp_path / environment
        run.mkdir()
        count, output = marking_runs(runbook(documents, environment), run)
        assert count == 1, environment
        assert re.search(r"already marked at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", output), output
        state = (run / "replace-one-instance-StatelessService-prod.env").read_text()
        assert re.fullmatch(r"INSTANCE=i-0123456789abcdef0\nMARKED_AT=\S+\nMARKED_EPOCH=\d+\n", state), state


def test_an_unguarded_marking_is_caught(documents, tmp_path):
    """The old step: set-instance-health alone, run again after a lost shell on an instance already
    marked (gone by then: ValidationError, step 3 prints None, back to step 1)."""
    text = runbook(documents)
    mark = next(s["command"] for s in steps(text) if "set-instance-health" in s["command"])
    old = 'aws autoscaling set-instance-health --instance-id "$INSTANCE" --health-status Unhealthy'
    count, _ = marking_runs(text.replace(mark.replace("\n", "\n   "), old), tmp_path)
    assert count == 2


def test_the_end_of_the_procedure_is_recorded_for_the_canary_check(documents):
    for environment in ENVIRONMENTS:
        wait = steps(runbook(documents, environment))[
            step_with(runbook(documents, environment), "wait target")
        ]
        assert re.search(
            r'DONE_AT=\$\(date -u \+%FT%T\) && echo "DONE_AT=\$DONE_AT" >> "\$STATE"', wait["command"]
        )
        assert "verification step 5" in wait["text"]


# The state file is archived at the end, so a later run does not resume a finished procedure; the names
# block shows the file's date when it reloads one.
def close_command(text: str) -> str:
    """The block that archives the state file (round 4: the last verification step)."""
    blocks = [b.group(1) for b in SH_BLOCK.finditer(text) if 'mv "$STATE"' in b.group(1)]
    return "\n".join(line.removeprefix("   ") for line in blocks[0].splitlines()) if blocks else ""


def leftover_state(text: str, tmp_path: Path) -> str:
    """Steps 3 and 5, then the last step; a new shell weeks later runs the names block's reload: what it
    prints."""
    all_steps = steps(text)
    name = all_steps[step_with(text, "describe-auto-scaling-instances")]["command"]
    mark = all_steps[step_with(text, "set-instance-health")]["command"]
    name = name.replace("<id from step 1>", "i-0123456789abcdef0")
    _shell(tmp_path, "\n".join([reload_lines(text), name, mark, close_command(text)]))
    return _shell(tmp_path, reload_lines(text)).stdout


def test_a_finished_procedure_is_not_resumed(documents, tmp_path):
    for environment in ENVIRONMENTS:
        run = tmp_path / environment
        run.mkdir()
        assert "resumed from" not in leftover_state(runbook(documents, environment), run), environment
        assert list(run.glob("replace-one-instance-StatelessService-prod.env.done-*")), environment


def test_a_state_file_left_behind_is_caught(documents, tmp_path):
    text = runbook(documents)
    last = close_command(text)
    assert "resumed from" in leftover_state(text.replace(_indent(last), "true"), tmp_path)


def test_a_reloaded_state_file_shows_its_date_and_what_to_do(documents, tmp_path):
    text = runbook(documents)
    name = steps(text)[step_with(text, "describe-auto-scaling-instances")]["command"]
    script = "\n".join([reload_lines(text), name.replace("<id from step 1>", "i-1"), reload_lines(text)])
    output = _shell(tmp_path, script).stdout
    assert re.search(
        r"^resumed from \S+ \(written \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\): INSTANCE=i-1", output, re.M
    )
    assert "Close it (the last verification step: it archives the file), then start at step 1" in section(
        text, "Names, looked up from the stack"
    )


def test_a_reload_without_the_date_is_caught(documents, tmp_path):
    text = runbook(documents).replace(' (written $(date -u -r "$STATE" +%FT%TZ))', "")
    name = steps(text)[step_with(text, "describe-auto-scaling-instances")]["command"]
    script = "\n".join([reload_lines(text), name.replace("<id from step 1>", "i-1"), reload_lines(text)])
    assert "(written " not in _shell(tmp_path, script).stdout


# Paste into bash: one shared precondition for every runbook of every cloud, and no `# comment` trailing a
# command in this runbook (zsh without interactive comments runs it as words; bash ignores it).
def test_every_runbook_asks_for_bash(documents):
    runbooks = [text for path, text in documents.items() if "## Preconditions\n" in text]
    assert runbooks
    for text in runbooks:
        assert "- A bash shell to paste the blocks into" in section(text, "Preconditions")


def trailing_comments(text: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if re.search(r"\S\s+#\s", line.strip())]


def test_no_command_line_ends_in_a_comment(documents):
    for environment in ENVIRONMENTS:
        assert trailing_comments(runbook(documents, environment)) == [], environment


def test_a_trailing_comment_is_caught(documents):
    text = runbook(documents).replace('STATE="$HOME', 'STATE="$HOME/x"  # state\nSTATE="$HOME', 1)
    assert trailing_comments(text)


# AWS-6. A failed mark and an earlier mark print different lines; an AccessDenied is a stop that says nothing
# changed. AWS-7. Step 3 run again during a replacement leaves its state alone.
def rerun_problems(text: str, tmp_path: Path) -> list[str]:
    problems = []
    reload = reload_lines(text)
    name = _command(text, "describe-auto-scaling-instances").replace("<id from step 1>", "i-1")
    mark = _command(text, "set-instance-health")
    denied = _bash(tmp_path / "denied", f"{reload}\n{name}\n{mark}", STUB_DENY="1")
    if (
        "MARK FAILED: read the error above" not in denied.stdout
        or "MARKED_AT" in (tmp_path / "denied" / STATE).read_text()
    ):
        problems.append(f"a refused mark is not reported as failed: {denied.stdout!r}")
    _bash(tmp_path / "twice", f"{reload}\n{name}\n{mark}")
    state = (tmp_path / "twice" / STATE).read_text()
    again = _bash(tmp_path / "twice", f"{reload}\n{mark}\n{name}")
    if not re.search(r"^already marked at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", again.stdout, re.M):
        problems.append(f"an earlier mark is not told apart: {again.stdout!r}")
    if (tmp_path / "twice" / STATE).read_text() != state:
        problems.append("step 3 run again overwrote the state of a replacement under way")
    if not re.search(r"^replacement of i-1 already under way since \S+: go to step 6$", again.stdout, re.M):
        problems.append("step 3 run again does not send the reader to step 6")
    stop = steps(text)[step_with(text, "set-instance-health")]["text"].split("Stop if:", 1)[1]
    if not re.search(
        r"`AccessDenied` \([^)]*autoscaling:SetInstanceHealth[^)]*\): nothing was changed; escalate", stop
    ):
        problems.append("no stop for AccessDenied")
    return problems


def test_reruns_and_refusals_say_what_happened(documents, tmp_path):
    for environment in ENVIRONMENTS:
        for case in ("denied", "twice"):
            (tmp_path / environment / case).mkdir(parents=True)
        assert rerun_problems(runbook(documents, environment), tmp_path / environment) == [], environment


@pytest.mark.parametrize(
    ("find", "replace"),
    [
        ('echo "MARK FAILED: read the error above"', 'echo "not marked now: MARKED_AT=${MARKED_AT:-}"'),
        ('echo "already marked at ${MARKED_AT:-}"', 'echo "not marked now: MARKED_AT=${MARKED_AT:-}"'),
        (
            'elif test -n "${MARKED_AT:-}"; then\n     echo "replacement',
            'elif false; then\n     echo "replacement',
        ),
        ("`AccessDenied`", "`Denied`"),
    ],
)
def test_a_rerun_that_wipes_or_confuses_is_caught(documents, tmp_path, find, replace):
    for case in ("denied", "twice"):
        (tmp_path / case).mkdir()
    text = runbook(documents)
    assert find in text
    assert rerun_problems(text.replace(find, replace), tmp_path)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_already_replacing_saves_the_instance_too(documents, tmp_path, environment):
    first = steps(runbook(documents, environment))[0]["text"].split("Stop if:", 1)[1]
    # Step 3 named the instance (its checks: test_aws_runbooks_act_only_on_what_this_run_named.py).
    command = re.search(r"`(test -n \"\$\{CHOSEN:-\}\" && [^`]*MARKED_AT=[^`]*)`", first).group(1)
    state = tmp_path / "state.env"
    state.write_text("INSTANCE=i-0123456789abcdef0\n")
    script = (
        f'STATE="{state}"\nINSTANCE=i-0123456789abcdef0 CHOSEN=i-0123456789abcdef0\n{command}\n'
        'unset INSTANCE\n. "$STATE"\n'
    )
    run = subprocess.run(
        ["bash", "-c", script + 'echo "$INSTANCE"'], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["marked", "i-0123456789abcdef0"]
    assert re.fullmatch(r"INSTANCE=i-0123456789abcdef0\nMARKED_AT=\S+\nMARKED_EPOCH=\d+\n", state.read_text())
