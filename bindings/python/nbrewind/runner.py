"""Running a whole notebook under the audit kernel (`nbrewind audit`)."""
from __future__ import annotations

import os
import sys

from . import _core, notebook as nbfile
from .kernelspec import audit_spec_manager
from .locate import NOTEBOOK_ENV, STORE_ENV, store_for_notebook

AUDIT_KERNEL = "nbrewind-audit-python3"


class AuditFailed(Exception):
    """Why `nbrewind audit` stopped, and the exit code that says it."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


KERNELS = {"audit": AUDIT_KERNEL, "repeat": "nbrewind-repeat-python3"}


def kernel_client(nb, directory: str, timeout, progress, mode: str = "audit"):
    """An nbclient NotebookClient on an nbrewind kernel that sends each
    cell's id with its execute request, and the state it keeps the current
    cell in ({"cell": ..., "index": ...})."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    km = KernelManager(kernel_name=KERNELS[mode], kernel_spec_manager=audit_spec_manager())
    # shutdown() flushes the checkpoints in flight first; what is left for the
    # kernel to do on shutdown is quick.
    km.shutdown_wait_time = 30
    client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=False,
                            resources={"metadata": {"path": directory}})
    state = {"cell": None, "index": None}

    def send_with_cell_id(code, silent=False, store_history=True, user_expressions=None,
                          stop_on_error=True, **_):
        """Execute like JupyterLab does: the cell id in the request's
        metadata, where ipykernel hands it to IPython (cell_id)."""
        kc = client.kc
        content = {"code": code, "silent": silent, "store_history": store_history,
                   "user_expressions": user_expressions or {}, "allow_stdin": False,
                   "stop_on_error": stop_on_error}
        metadata = {} if silent or state["cell"] is None else {"cellId": state["cell"].id}
        msg = kc.session.msg("execute_request", content, metadata=metadata)
        kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def on_notebook_start(notebook):
        client.kc.execute = send_with_cell_id

    def on_cell_execute(cell, cell_index):
        state["cell"], state["index"] = cell, cell_index

    client.on_notebook_start = on_notebook_start
    client.on_cell_execute = on_cell_execute
    if progress is not None:
        client.on_cell_executed = lambda cell, cell_index, execute_reply: progress.update(1)
    return client, state


def _check_store(store_path: str):
    """Fail before starting a kernel if the store cannot be written (locked
    by another kernel, newer format, unwritable place)."""
    try:
        _core.Store(store_path, "c").close()
    except _core.Error as exc:
        raise AuditFailed(f"store {store_path}: {exc}", 4) from None


def audit_notebook(path: str, out: str | None = None, store: str | None = None,
                   timeout: int | None = None, progress: bool = True) -> dict:
    """Run every cell of `path` under the audit kernel, then write the
    outputs and the record into `out` (default: in place)."""
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    nb = nbfile.read(path)
    target = os.path.abspath(out or path)
    store_path = store_for_notebook(target, store)
    _check_store(store_path)
    env = dict(os.environ, **{NOTEBOOK_ENV: target, STORE_ENV: store_path})
    bar = _progress_bar(nb, progress)
    client, state = kernel_client(nb, os.path.dirname(os.path.abspath(path)), timeout, bar)
    failure = None
    try:
        client.execute(env=env)
    except CellExecutionError as exc:
        cell = state["cell"]
        failure = AuditFailed(f"{path}: cell {state['index'] + 1} (id {cell.id}) raised "
                              f"{exc.ename}: {exc.evalue}", 1)
    except DeadKernelError as exc:
        failure = AuditFailed(f"{path}: the kernel died ({exc})", 3)
    except Exception as exc:
        if client.kc is None:
            raise AuditFailed(f"{path}: the audit kernel did not start: "
                              f"{type(exc).__name__}: {exc}", 3) from None
        raise
    finally:
        if bar is not None:
            bar.close()
        shutdown(client)
    summary = nbfile.sync(nb, target, store_path)
    nbfile.write(nb, target)
    if failure is not None:
        raise failure
    return summary


FLUSH = "__import__('nbrewind.extension').extension.flush_all()"


def shutdown(client):
    """Make every checkpoint in flight durable, then stop the kernel and wait
    for it, so that its store lock is released before the record is synced.
    (nbclient leaves running a kernel whose manager it did not create.)"""
    km = client.km
    if km is None or not km.has_kernel:
        return
    try:
        if client.kc is not None and km.is_alive():
            # an expression, not code: as code, the flush would be protected
            # against like any silent execution (live.py), and code that
            # calls __import__ may change anything: every array still being
            # written would be copied just before it is waited for
            client.wait_for_reply(client.kc.execute("", silent=True, store_history=False,
                                                    user_expressions={"flushed": FLUSH}))
    except Exception:
        pass  # a dead or wedged kernel: what it had not written is lost, as documented
    try:
        km.shutdown_kernel(now=False)
    except Exception:
        km.shutdown_kernel(now=True)


def _progress_bar(nb, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    total = sum(1 for c in nb.cells if c.cell_type == "code")
    return tqdm(total=total, unit="cell", file=sys.stderr, desc="audit")
