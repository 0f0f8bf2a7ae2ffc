#!/usr/bin/env python3
"""CTest: the README's command blocks run as written.

Usage: readme_commands.py README EXPLAIN_VIDEO SOURCE_DIR SCRATCH_DIR [--markers-only]

Every fenced block of the README carries a marker on the line before it (an HTML comment,
invisible when rendered); a block without one fails the test, so a new block has to say how
it is tested:

  <!-- readme-test: run -->                run every command of the block as written
  <!-- readme-test: run, append FLAGS -->  run every command as written, with FLAGS appended to
                                           each `build/explain-video` command (only flags the
                                           command does not give itself, so its own flags run
                                           exactly as written; the test fails otherwise): for
                                           runs that are too slow for the suite as written,
                                           e.g. `--shard 0/50` (a fiftieth of a split) or a
                                           smaller frame size for `synth`
  <!-- readme-test: options (why) -->      too slow for the suite even so (training):
                                           `build/explain-video` commands run with `--help`
                                           appended, which parses every option and value of
                                           the command (an unknown option, a malformed value
                                           or an unknown command fails) and runs nothing;
                                           other commands (exports) run as written
  <!-- readme-test: skip (why) -->         not run (placeholders, output, needs what the
                                           suite does not have); the reason is required

The blocks run in the README's order, in one scratch copy of the repository's layout
(SCRATCH_DIR: clips/ and models/ copied, scripts/ linked, build/explain-video the built
executable), so a block may use what an earlier one wrote (the synth block's data/). A command
fails on a non-zero exit code. With --markers-only only the markers are checked.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

FENCE = re.compile(r"^```")
MARKER = re.compile(r"^<!-- readme-test: (.*) -->$")
CLI = "build/explain-video"


def blocks(readme):
    """(line number, marker text or None, [lines]) for every fenced block."""
    lines = open(readme, encoding="utf-8").read().split("\n")
    out, i = [], 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            m = MARKER.match(lines[j].strip()) if j >= 0 else None
            k = i + 1
            while k < len(lines) and not FENCE.match(lines[k]):
                k += 1
            out.append((i + 1, m.group(1).strip() if m else None, lines[i + 1:k]))
            i = k + 1
        else:
            i += 1
    return out


def parse_marker(text):
    """("run", [flags]) | ("options", []) | ("skip", []); ValueError when malformed."""
    m = re.fullmatch(r"run(?:, append (.+))?", text)
    if m:
        return "run", shlex.split(m.group(1)) if m.group(1) else []
    if re.fullmatch(r"(options|skip) \(.+\)", text):
        return text.split(" ", 1)[0], []
    raise ValueError(f"malformed marker '{text}' (run | run, append FLAGS | options (why) | skip (why))")


def commands(block_lines):
    """The block's commands as token lists: continuations joined, comments dropped."""
    out, acc = [], ""
    for line in block_lines:
        s = line.rstrip()
        if not acc and s.lstrip().startswith("#"):
            continue
        if acc:
            s = acc + " " + s.lstrip()
            acc = ""
        if s.endswith("\\"):
            acc = s[:-1]
            continue
        tokens = shlex.split(s, comments=True)
        if tokens:
            out.append(tokens)
    return out


def prepare(cli, src, scratch):
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(os.path.join(scratch, "build"))
    os.symlink(os.path.abspath(cli), os.path.join(scratch, CLI))
    for d in ("clips", "models"):
        shutil.copytree(os.path.join(src, d), os.path.join(scratch, d))
    os.symlink(os.path.join(os.path.abspath(src), "scripts"), os.path.join(scratch, "scripts"))


def main():
    args = [a for a in sys.argv[1:] if a != "--markers-only"]
    markers_only = len(args) != len(sys.argv) - 1
    readme = args[0]
    problems, plan = [], []
    for line, marker, body in blocks(readme):
        if marker is None:
            problems.append(f"README line {line}: a block without a readme-test marker")
            continue
        try:
            mode, flags = parse_marker(marker)
        except ValueError as e:
            problems.append(f"README line {line}: {e}")
            continue
        if mode == "skip":
            continue
        for tokens in commands(body):
            extra = []
            if tokens[0] == CLI:
                extra = ["--help"] if mode == "options" else flags
                for f in extra:
                    if f.startswith("-") and f in tokens:
                        problems.append(f"README line {line}: appended {f} is a flag the command gives itself")
            plan.append((line, mode, tokens + extra))
    for p in problems:
        print("FAIL", p)
    if markers_only or problems:
        print(f"{len(plan)} commands to run; {len(problems)} problems")
        return 1 if problems else 0

    cli, src, scratch = args[1], args[2], args[3]
    prepare(cli, src, scratch)
    failed, t_all = 0, time.time()
    for line, mode, tokens in plan:
        cmd = shlex.join(tokens)
        t0 = time.time()
        r = subprocess.run(["bash", "-c", cmd], cwd=scratch, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=600)
        dt = time.time() - t0
        if r.returncode != 0:
            failed += 1
            print(f"FAIL line {line} ({mode}, exit {r.returncode}, {dt:.1f} s): {cmd}")
            print("\n".join("    " + l for l in r.stderr.strip().split("\n")[-5:]))
        else:
            print(f"ok   line {line} ({mode}, {dt:.1f} s): {cmd}")
    print(f"{len(plan)} commands, {failed} failed, {time.time() - t_all:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
