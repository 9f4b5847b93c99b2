"""The sandbox learners' notebooks run in (book: *For instructors*, section *Grading*).

:func:`popen` starts a command whose only writable folder is ``work``. Where Linux allows it
(:func:`available`: ``unshare`` with user, mount, PID, network and IPC namespaces) the command
starts as this file, a script that prepares the namespaces and then becomes the command:

- an empty read-only tmpfs covers the temporary folders, ``/run``, the home folders, the folder
  of every file in ``hide`` (the batch's submissions) and the course's repository, its solutions,
  tests and build included; of what they held only the submission's own folder, the package and
  Python come back, at their own paths;
- ``/dev`` keeps only ``null``, ``zero``, ``full``, ``random`` and ``urandom``, and every named
  Unix socket listening when it starts (a daemon's door) is blanked by ``/dev/null``;
- ``work`` is a fresh tmpfs; every other mount, ``/proc`` and ``/sys`` included, is read-only;
- the loopback interface is up (a kernel talks to its client over it); there is no other network;
- every capability is dropped for good, so nothing inside can undo a mount, and the command runs
  as PID 1 of its own PID namespace: every process it starts ends with it. When the grader runs as
  root, the sandbox runs as ``nobody`` where ``nobody`` can run Python (else as a root that has
  no capability).

Elsewhere the command only gets its own folder and process group.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

_UNSHARE = [
    "unshare",
    "--user",
    "--map-root-user",
    "--mount",
    "--net",
    "--pid",
    "--ipc",
    "--fork",
    "--kill-child",
    "--mount-proc",
]
_NOBODY = 65534
_WORK_MB = 512
_DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]
_DEVICE_LINKS = {
    "/dev/fd": "/proc/self/fd",
    "/dev/stdin": "/proc/self/fd/0",
    "/dev/stdout": "/proc/self/fd/1",
    "/dev/stderr": "/proc/self/fd/2",
}
#: What a process in the sandbox may see of the environment.
_ENVIRONMENT = (
    "PATH",
    "PYTHONPATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "QROBUST_DATA",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TQDM_DISABLE",
)

# mount(2), prctl(2) and capability constants (linux/mount.h, linux/prctl.h, linux/securebits.h)
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT = 1, 2, 4, 8, 32
_MS_NOATIME, _MS_NODIRATIME, _MS_BIND, _MS_REC, _MS_RELATIME = 1024, 2048, 4096, 16384, 1 << 21
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_SECUREBITS, _PR_SET_NO_NEW_PRIVS = 1, 24, 28, 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_SECURE_NOROOT_FOR_GOOD = 0b101111  # NOROOT and NO_SETUID_FIXUP, locked; KEEP_CAPS off, locked
_libc = ctypes.CDLL(None, use_errno=True)


def environment(work: Path) -> dict[str, str]:
    """The environment of a command in ``work``: its home and caches there, nothing else of the grader's."""
    kept = {k: v for k, v in os.environ.items() if k in _ENVIRONMENT}
    return {
        **kept,
        "HOME": str(work),
        "TMPDIR": str(work),
        "MPLCONFIGDIR": str(work / ".matplotlib"),
        "IPYTHONDIR": str(work / ".ipython"),
        "JUPYTER_RUNTIME_DIR": str(work / ".jupyter"),
        "XDG_CACHE_HOME": str(work / ".cache"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def popen(
    argv: list[str], work: Path, *, isolated: bool, hide=(), memory_mb: int | None = None, pass_fds=(), stderr=None
) -> subprocess.Popen:
    """Start ``argv`` in ``work``, in the sandbox when ``isolated`` (else in a process group of its
    own), with an address-space limit of ``memory_mb``; the files in ``hide`` are out of its sight."""
    options = {}
    if isolated:
        argv = _sandboxed(argv, work, [Path(h) for h in hide])
        options = _as(_setup()[1])
    return subprocess.Popen(
        argv,
        cwd=work,
        env=environment(work),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        pass_fds=pass_fds,
        start_new_session=True,
        preexec_fn=_limits(memory_mb),
        **options,
    )


def available() -> bool:
    """Whether :func:`popen` can run commands in the sandbox here."""
    return _setup()[0]


def kill_tree(pid: int) -> None:
    """End ``pid`` and every process below it (a sandbox's own processes end with it anyway)."""
    import psutil

    try:
        root = psutil.Process(pid)
        family = root.children(recursive=True) + [root]
    except psutil.NoSuchProcess:
        return
    for process in family:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


@functools.lru_cache(maxsize=1)
def _setup() -> tuple[bool, int | None]:
    """(whether the sandbox works here, the user it runs as: ``nobody`` for a root grader, else None)."""
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False, None
    for user in [_NOBODY, None] if os.geteuid() == 0 else [None]:
        with tempfile.TemporaryDirectory(prefix="qrobust-probe-") as folder:
            work = Path(folder) / "work"
            work.mkdir()
            os.chmod(folder, 0o755)
            probe = _sandboxed([sys.executable, "-c", "import nbclient, numpy, qrobust_lite"], work, [], work_mb=1)
            try:
                done = subprocess.run(
                    probe, cwd=work, env=environment(work), capture_output=True, timeout=60, **_as(user)
                )
            except (OSError, subprocess.SubprocessError):
                continue
            if done.returncode == 0:
                return True, user
    return False, None


def _as(user: int | None) -> dict:
    """Popen's options that run a command as ``user`` (None: as this process)."""
    return {} if user is None else {"user": user, "group": user, "extra_groups": []}


def _sandboxed(argv: list[str], work: Path, hide: list[Path], work_mb: int = _WORK_MB) -> list[str]:
    """``argv`` run by this file in fresh namespaces (see the module's docstring)."""
    spec = {"work": str(work), "work_mb": work_mb, "covers": _covers(work, hide), "blank": _sockets()}
    return [*_UNSHARE, sys.executable, "-I", __file__, json.dumps(spec), "--", *argv]


def _limits(megabytes: int | None):
    def limit() -> None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # it ends if the grader does
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if megabytes:
            size = megabytes * 2**20
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    return limit


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _sockets() -> list[str]:
    """The paths of the Unix sockets listening now (``/proc/net/unix``)."""
    try:
        lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        return []
    return sorted({line.split()[-1] for line in lines if len(line.split()) > 7 and line.split()[-1].startswith("/")})


def _covers(work: Path, hide: list[Path]) -> list[dict]:
    """What the sandbox covers with an empty tmpfs, shallowest first: ``{"path", "keep", "links"}``."""
    from .. import __file__ as package_init

    package = Path(package_init).resolve().parent
    data = [Path(os.environ["QROBUST_DATA"])] if os.environ.get("QROBUST_DATA") else []  # datasets
    wanted = {
        work.parent,
        package,
        Path(sys.executable).resolve().parent,
        *data,
        *(Path(p) for p in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)),
    }
    wanted = {p.resolve() for p in wanted}
    needed = {p for p in wanted if not any(q != p and _inside(p, q) for q in wanted)}
    folders = {
        Path(tempfile.gettempdir()),
        work.parent.parent,
        Path("/var/tmp"),
        Path("/run"),
        Path("/home"),
        Path("/root"),
        Path.home(),
        *(h.parent for h in hide),
    }
    if (package.parent / "pyproject.toml").is_file():  # a source checkout: the course's repository
        folders.add(package.parent)
    covers = [{"path": "/dev", "keep": _DEVICES, "links": _DEVICE_LINKS}]
    for folder in {f.resolve() for f in folders if f.exists()}:
        if folder != Path("/") and not any(_inside(folder, n) for n in needed):
            covers.append(
                {"path": str(folder), "keep": sorted(str(n) for n in needed if _inside(n, folder)), "links": {}}
            )
    return sorted(covers, key=lambda c: c["path"].count("/"))


# --- inside the namespaces (this file run as a script) ------------------------------------------


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def c(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    _check(_libc.mount(c(source), c(target), c(fstype), ctypes.c_ulong(flags), c(data)), f"mount {target}")


def _cover(path: str, keep: list[str], links: dict[str, str]) -> None:
    """An empty tmpfs over ``path``; each of ``keep`` (inside it) bound back at its own path."""
    if not os.path.isdir(path):  # gone under an earlier cover
        return
    handles = [(k, os.open(k, os.O_PATH)) for k in keep if os.path.exists(k)]
    _mount("tmpfs", path, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=64k,mode=755")
    for target, handle in handles:
        source = f"/proc/self/fd/{handle}"
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        _mount(source, target, None, _MS_BIND | _MS_REC)
        os.close(handle)
    for link, to in links.items():
        os.symlink(to, link)


def _mount_ids() -> dict[str, list[int]]:
    """``mount point -> [mount ids]`` of every mount of this namespace."""
    found: dict[str, list[int]] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])  # \040 is a space
        found.setdefault(point, []).append(int(fields[0]))
    return found


def _visible_mount(point: str) -> int | None:
    """The id of the mount one reaches at ``point`` (None where nothing is)."""
    try:
        handle = os.open(point, os.O_PATH | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = Path(f"/proc/self/fdinfo/{handle}").read_text()
    finally:
        os.close(handle)
    return next(int(line.split()[1]) for line in info.splitlines() if line.startswith("mnt_id:"))


def _read_only(writable: str) -> None:
    """Every mount one can reach read-only, but ``writable``; refuses to go on if one stays writable."""
    kept = {
        os.ST_NOSUID: _MS_NOSUID,
        os.ST_NODEV: _MS_NODEV,
        os.ST_NOEXEC: _MS_NOEXEC,
        os.ST_NOATIME: _MS_NOATIME,
        os.ST_NODIRATIME: _MS_NODIRATIME,
        os.ST_RELATIME: _MS_RELATIME,
    }
    failed = []
    for point, ids in _mount_ids().items():
        if point == writable or _visible_mount(point) not in ids:
            continue
        flags = os.statvfs(point).f_flag
        try:
            _mount(
                None,
                point,
                None,
                _MS_REMOUNT | _MS_BIND | _MS_RDONLY | sum(ms for st, ms in kept.items() if flags & st),
            )
        except OSError as err:
            failed.append(f"{point} ({err.strerror})")
    if failed:
        raise RuntimeError(f"the sandbox cannot make these mounts read-only: {', '.join(failed)}")


def _loopback_up() -> None:
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", 0x1 | 0x8 | 0x40))  # SIOCSIFFLAGS: up, running


def _drop_capabilities() -> None:
    """No capability now or after any ``exec``, and no way to gain one."""
    _check(_libc.prctl(_PR_SET_SECUREBITS, _SECURE_NOROOT_FOR_GOOD, 0, 0, 0), "securebits")
    cap = 0
    while _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:  # up to the last capability this kernel has
        cap += 1
    _check(_libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "ambient capabilities")
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _enter(spec: dict) -> None:
    """Turn the fresh namespaces this process runs in into the sandbox (see the module's docstring)."""
    for cover in spec["covers"]:
        _cover(cover["path"], cover["keep"], cover["links"])
    for path in spec["blank"]:
        if os.path.exists(path):
            _mount("/dev/null", path, None, _MS_BIND)
    work = spec["work"]
    _mount("tmpfs", work, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={spec['work_mb']}m,mode=755")
    _read_only(work)
    _loopback_up()
    os.chdir(work)
    _drop_capabilities()


if __name__ == "__main__":  # python -I sandbox.py SPEC -- COMMAND...: inside fresh namespaces
    _enter(json.loads(sys.argv[1]))
    command = sys.argv[sys.argv.index("--") + 1 :]
    os.execv(command[0], command)
