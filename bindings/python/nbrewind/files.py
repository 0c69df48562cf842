"""Which files a cell read and wrote, by content hash.

Python's audit hooks ("open" events, PEP 578) see every file the cell's code
opens through Python, including from libraries (pandas.read_csv, np.load).
Files opened by compiled code bypassing Python are not seen: that limit is
documented.  At the end of the cell each regular file is hashed; a file the
cell wrote is an output, one it only read is an input.  Files of the Python
installation, of the kernel's own machinery and of the store are ignored.
"""
from __future__ import annotations

import mmap
import os
import sys
import sysconfig

from . import _core

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_hook_installed = False
_watchers: list = []


def _on_event(event, args):
    if event != "open" or not _watchers:
        return
    path, mode, flags = args
    for watcher in _watchers:
        watcher.saw(path, mode, flags)


def _system_roots() -> list[str]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr", "/proc", "/sys", "/dev",
             "/etc", os.path.expanduser("~/.ipython"), os.path.expanduser("~/.cache"),
             os.path.expanduser("~/.local/share/jupyter"), os.path.expanduser("~/.config")}
    for key in ("stdlib", "purelib", "platlib"):
        roots.add(sysconfig.get_paths().get(key, "/usr"))
    return sorted(os.path.realpath(r) for r in roots if r)


def content_id(path: str) -> str:
    """The hash of a file's bytes (read through a map, never copied)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return _core.hash_bytes(b"")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return _core.hash_bytes(m)


class FileWatcher:
    """Collects the files opened between start() and stop()."""

    def __init__(self, ignore=()):
        self.ignore = [os.path.realpath(p) for p in ignore] + _system_roots()
        self.seen: dict[str, str] = {}  # realpath -> "read" | "written"
        self.active = False

    def start(self):
        global _hook_installed
        if not _hook_installed:  # an audit hook cannot be removed: one, shared
            sys.addaudithook(_on_event)
            _hook_installed = True
        self.seen = {}
        self.active = True
        if self not in _watchers:
            _watchers.append(self)

    def stop(self):
        self.active = False
        if self in _watchers:
            _watchers.remove(self)

    def saw(self, path, mode, flags):
        if not self.active or isinstance(path, int):
            return
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return
        if any(real == r or real.startswith(r.rstrip("/") + "/") for r in self.ignore):
            return
        written = (mode is not None and any(c in str(mode) for c in "wax+")) or \
                  (mode is None and bool((flags or 0) & _WRITE_FLAGS))
        if written or real not in self.seen:
            self.seen[real] = "written" if written else self.seen.get(real, "read")

    def collect(self, notebook: str | None) -> dict:
        """{display path: (mode, content id)} for the files still there; paths
        relative to the notebook's directory when inside it."""
        self.active = False
        base = os.path.dirname(os.path.abspath(notebook)) if notebook else os.getcwd()
        out = {}
        for real, mode in sorted(self.seen.items()):
            if not os.path.isfile(real):
                continue
            try:
                cid = content_id(real)
            except OSError:
                continue
            rel = os.path.relpath(real, base)
            out[real if rel.startswith("..") else rel] = (mode, cid)
        self.seen = {}
        return out
