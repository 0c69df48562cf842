"""The IPython extension: ``%load_ext nbrewind``.

Loading it makes every following cell leave an incremental checkpoint and an
execution record in the notebook's store (audit.py).  ``%nbrewind`` controls
it:

    %nbrewind status                  where the store is, what was checkpointed
    %nbrewind exclude NAME...         never store these (credentials, ...)
    %nbrewind include NAME...         store them again
    %nbrewind max-object-size SIZE    record bigger values as "recompute" (e.g. 2GB; none)
    %nbrewind off | on                pause or resume the audit
    %nbrewind background on | off     write checkpoints while the next cell runs (default:
                                      on with 2 or more CPUs, off with one;
                                      $NBREWIND_BACKGROUND=1 or 0 chooses)
    %nbrewind flush                   wait until every checkpoint so far is durable
    %nbrewind rewind K                the namespace as after the K-th execution of
                                      `nbrewind log` (or a cell id); values load when used
"""
from __future__ import annotations

import atexit
import re
import shlex

from .audit import Auditor
from .live import install as install_replay
from .locate import store_for_notebook, notebook_of_session

_OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error")
_state: dict = {}


def load_ipython_extension(ip):
    if "auditor" in _state:
        return
    notebook = notebook_of_session(ip)
    auditor = Auditor(ip, store_for_notebook(notebook), notebook)
    ip.events.register("pre_run_cell", auditor.pre_run_cell)
    ip.events.register("post_run_cell", auditor.post_run_cell)
    replayer, unreplay = install_replay(ip, auditor)
    ip.register_magic_function(_magic(auditor, replayer), "line", "nbrewind")
    atexit.register(auditor.close)  # a kernel shut down cleanly loses nothing
    _state["auditor"] = auditor
    _state["replayer"] = replayer
    unhook = _capture_outputs(ip, auditor)
    _state["unhook"] = lambda: (unhook(), unreplay())


def unload_ipython_extension(ip):
    auditor = _state.pop("auditor", None)
    if auditor is None:
        return
    ip.events.unregister("pre_run_cell", auditor.pre_run_cell)
    ip.events.unregister("post_run_cell", auditor.post_run_cell)
    _state.pop("unhook")()
    atexit.unregister(auditor.close)
    auditor.close()


def flush_all():
    """Wait until every checkpoint of this kernel is durable (the commands
    call this before shutting a kernel down)."""
    auditor = _state.get("auditor")
    if auditor is not None:
        auditor.flush()


def current_auditor():
    """The auditor of this process's shell, or None."""
    return _state.get("auditor")


def _capture_outputs(ip, auditor):
    """Observe what the kernel publishes (streams, displays, results,
    errors) so the record holds the cell's outputs.  Every one goes through
    the kernel's Session.send, whichever thread flushes it."""
    kernel = getattr(ip, "kernel", None)
    session = getattr(kernel, "session", None)
    if session is None:  # a terminal IPython: nothing is published
        return lambda: None
    original = session.send

    def send(stream, msg_or_type, content=None, *args, **kwargs):
        msg_type = msg_or_type if isinstance(msg_or_type, str) else \
            msg_or_type.get("header", {}).get("msg_type")
        if msg_type in _OUTPUT_TYPES:
            body = content if content is not None or isinstance(msg_or_type, str) else \
                msg_or_type.get("content")
            auditor.capture_output(msg_type, body or {})
        return original(stream, msg_or_type, content, *args, **kwargs)

    session.send = send
    return lambda: setattr(session, "send", original)


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?", re.I)
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 1024, "m": 1e6, "mb": 1e6,
          "mib": 1024**2, "g": 1e9, "gb": 1e9, "gib": 1024**3, "t": 1e12, "tb": 1e12,
          "tib": 1024**4}


def parse_size(text: str) -> int | None:
    if text.lower() in ("none", "off", "unlimited"):
        return None
    m = _SIZE.fullmatch(text.strip())
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not a size: {text!r} (e.g. 500MB, 2GiB, none)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _magic(auditor, replayer):
    def nbrewind(line):
        """Control the nbrewind audit: status, exclude NAME..., include NAME...,
        max-object-size SIZE, background on|off, flush, rewind K, off, on."""
        words = shlex.split(line)
        command, args = (words[0], words[1:]) if words else ("status", [])
        if command == "rewind" and len(args) == 1:
            print(replayer.rewind(args[0]))
            return
        if command == "exclude":
            auditor.excluded.update(args)
        elif command == "include":
            auditor.excluded.difference_update(args)
        elif command == "max-object-size" and len(args) == 1:
            auditor.max_object_bytes = parse_size(args[0])
        elif command in ("off", "on"):
            auditor.enabled = command == "on"
        elif command == "background" and len(args) == 1 and args[0] in ("on", "off"):
            auditor.flush()
            auditor.background = args[0] == "on"
        elif command == "flush":
            auditor.flush()
        elif command != "status":
            print(f"nbrewind: unknown command {command!r}; see %nbrewind?")
            return
        print(_status(auditor))

    return nbrewind


def _status(auditor) -> str:
    auditor.flush()  # report what is durable
    cap = auditor.max_object_bytes
    lines = [f"nbrewind audit {'on' if auditor.enabled else 'off'}",
             f"  store: {auditor.store_path}",
             f"  last checkpoint: {auditor.last_checkpoint or '(none yet)'}",
             f"  excluded: {', '.join(sorted(auditor.excluded)) or '(none)'}",
             f"  max object size: {'none' if cap is None else cap}",
             f"  background commits: {'on' if auditor.background else 'off'}"]
    if auditor.last_warning:
        lines.append(f"  last warning: {auditor.last_warning}")
    return "\n".join(lines)
