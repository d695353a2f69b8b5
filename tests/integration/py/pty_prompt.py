"""Run a command on a pseudo-terminal, answer its hidden prompt, and print everything the terminal showed.

Usage: pty_prompt.py ANSWER PROGRAM [ARGS...]; exits with the program's exit code. The answer is typed once the
terminal shows "(will be hidden): ", followed by Enter.
"""
import os
import pty
import select
import sys
import time

answer, program, args = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(program, [program] + args)

shown = b""


def read(until=None, timeout=30.0):
    global shown
    end = time.time() + timeout
    while time.time() < end:
        if until is not None and until in shown:
            return
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            return
        if not data:
            return
        shown += data


read(until=b"(will be hidden): ")
os.write(fd, answer.encode() + b"\n")
read()
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
