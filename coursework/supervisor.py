"""The supervisor: a trusted process between the grader and the child that runs student code.

Run as `python -I supervisor.py` by the grader (standard library only, no imports from this
package). It reads one JSON line on stdin describing the child, starts it in a new session (its
own process group), with resource limits, an empty mount of the grader's private folders when it
can make a mount namespace, and, when it runs as root, as an unprivileged user. It is the
children's subreaper: a process that double-forks or calls setsid to escape the group is still
re-parented to the supervisor. When the grader closes the supervisor's stdin (or the child's time
is up), it kills every descendant, waits until none is left, prints one JSON line (the child's exit
status and the tail of its output) and exits. So once the grader has read that line, no process
of the child's remains.
"""
import ctypes
import json
import os
import resource
import select
import signal
import subprocess
import sys
import threading
import time

PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 0x4000, 1 << 18
OUTPUT_TAIL = 4000  # characters of the child's stdout and stderr kept for the report

libc = ctypes.CDLL(None, use_errno=True)


def descendants() -> list:
    """The pids of every live process below this one, read from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue  # it ended while we looked
    mine, frontier = [], [os.getpid()]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        mine += children
        frontier += children
    return mine


def kill_everything(group: int) -> None:
    """SIGKILL the child's group and every descendant, again and again, until none is left."""
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
    while True:
        alive = descendants()
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:  # reap what died; orphans re-parented to us are reaped here too
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        if not alive and not descendants():
            return
        time.sleep(0.01)


def hide(paths: list) -> bool:
    """In a new mount namespace, cover each path with an empty read-only tmpfs. False if not allowed."""
    if not paths:
        return True
    if libc.unshare(CLONE_NEWNS) != 0:
        return False
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    for path in paths:
        if libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                      b"size=4k,mode=0555") != 0:
            return False
    return True


def tasks_of(uid: int) -> int:
    """The threads `uid` runs now: RLIMIT_NPROC counts them all, not only the child's."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                pass
    return count


def can_hide(paths: list) -> bool:
    """Whether this machine lets us make a mount namespace (tried in a throwaway fork)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0 if hide(paths) else 1)
    _, status = os.waitpid(pid, 0)
    return status == 0


def preexec(spec: dict, hiding: list):
    """What the child does between fork and exec, in this order: its own session, the mount
    namespace, limits, then dropping root (nothing after that could raise them again)."""
    limits = spec["limits"]
    processes = limits["processes"] + tasks_of(spec["uid"] if spec["uid"] is not None else os.getuid())

    def run():
        os.setsid()
        if hiding and not hide(hiding):
            os._exit(97)
        for name, value in (("RLIMIT_AS", limits["memory"]), ("RLIMIT_CPU", limits["cpu"]),
                            ("RLIMIT_FSIZE", limits["file_size"]), ("RLIMIT_NPROC", processes),
                            ("RLIMIT_CORE", 0), ("RLIMIT_NOFILE", 256)):
            resource.setrlimit(getattr(resource, name), (value, value))
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no setuid program gives root back
        if spec["uid"] is not None:
            os.setgroups([])
            os.setgid(spec["gid"])
            os.setuid(spec["uid"])
        os.umask(0o077)
    return run


def main() -> int:
    spec = json.loads(sys.stdin.readline())
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(json.dumps({"error": "prctl(PR_SET_CHILD_SUBREAPER) failed"}), flush=True)
        return 1
    hiding = spec["hide"] if can_hide(spec["hide"]) else []
    print(json.dumps({"hidden": bool(hiding) or not spec["hide"]}), flush=True)
    child = subprocess.Popen(spec["argv"], cwd=spec["cwd"], env=spec["env"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(spec["answer_fd"],),
                             preexec_fn=preexec(spec, hiding))
    os.close(spec["answer_fd"])  # only the child holds the answers' pipe now

    def feed():
        try:
            child.stdin.write(spec["payload"].encode())
            child.stdin.close()
        except OSError:
            pass  # the child died before reading it: its exit says why
    threading.Thread(target=feed, daemon=True).start()
    output, status, deadline = b"", None, time.monotonic() + spec["seconds"]
    streams = [sys.stdin, child.stdout]
    while time.monotonic() < deadline:
        ready, _, _ = select.select(streams, [], [], 0.05)
        if sys.stdin in ready and not sys.stdin.readline():
            break  # the grader is done with the child
        if child.stdout in ready:
            chunk = os.read(child.stdout.fileno(), 65536)
            if chunk:
                output = (output + chunk)[-OUTPUT_TAIL:]
            else:
                streams.remove(child.stdout)
        if status is None:
            status = child.poll()
            if status is not None:
                print(json.dumps({"exited": status}), flush=True)
    if status is None:  # the answers' pipe closes a moment before the child becomes a zombie
        try:
            status = child.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
    kill_everything(child.pid)
    print(json.dumps({"status": status, "output": output.decode("utf-8", "replace")}), flush=True)  # all dead
    return 0


if __name__ == "__main__":
    sys.exit(main())
