"""Notebook kernels for the batch: started with retries, optionally kept warm and reset.

A cold start (a new Python process that imports pandas, matplotlib and the kit) costs more
than most reports. A :class:`KernelSlot` owns one kernel; with ``warm=True`` the batch runs
report after report in it, resetting the user namespace, matplotlib state and working
directory in between, so imports and the in-process data caches are paid once per worker.
Parameters are still injected by papermill (:class:`WarmKernelEngine` is a papermill engine
that executes on the slot's kernel instead of starting a new one).
"""

from __future__ import annotations

import logging
import subprocess
import time

import nbformat
from nbclient import NotebookClient
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.utils import remove_args

from nlc_eval.errors import ReportError

logger = logging.getLogger(__name__)

ENGINE_NAME = "nlc-warm"

#: Seconds waited after a failed kernel start, times the attempt number.
START_BACKOFF = 1.0

#: Run in a reused kernel before each report: a clean namespace, figures and style.
RESET_CODE = """\
get_ipython().reset(new_session=True, aggressive=False)
import gc as _gc, os as _os, warnings as _warnings
_warnings.resetwarnings()
try:
    import matplotlib as _mpl
    import matplotlib.pyplot as _plt
    _plt.close("all")
    _mpl.rcdefaults()
    del _mpl, _plt
except ImportError:
    pass
_os.chdir({cwd!r})
_gc.collect()
del _gc, _os, _warnings
"""


class KernelStartError(ReportError):
    """A notebook kernel could not be started, even after retries."""


class KernelSlot:
    """One notebook kernel, started on demand with retries.

    Parameters
    ----------
    kernel_name : str
        Jupyter kernel spec name (``python3`` by default).
    cwd : str, optional
        Working directory of the kernel.
    startup_timeout : float
        Seconds to wait for a kernel to answer.
    retries : int
        Attempts to start a kernel before giving up with :class:`KernelStartError`.
    backoff : float, optional
        Seconds to wait after a failed start, times the attempt number
        (default :data:`START_BACKOFF`).

    Notes
    -----
    A slot must be used from one thread only (its kernel client lives on that thread's
    event loop); the batch gives each worker thread its own slot.
    """

    def __init__(self, kernel_name: str = "python3", cwd: str | None = None,
                 startup_timeout: float = 60, retries: int = 3, backoff: float | None = None) -> None:
        self.kernel_name = kernel_name
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self.retries = max(1, int(retries))
        self.backoff = START_BACKOFF if backoff is None else backoff
        self.km = None
        self.kc = None
        self.starts = 0
        self.failed_starts = 0
        self.runs = 0

    @property
    def alive(self) -> bool:
        if self.km is None or self.kc is None:
            return False
        try:
            return bool(_sync(self.km.is_alive)())
        except Exception:  # noqa: BLE001 - a broken manager is simply not alive
            return False

    def start(self) -> int:
        """Start the kernel (retrying failures); return the number of attempts used."""
        from jupyter_client.manager import AsyncKernelManager

        last: BaseException | None = None
        for attempt in range(1, self.retries + 1):
            km = AsyncKernelManager(kernel_name=self.kernel_name)
            client = NotebookClient(nbformat.v4.new_notebook(), km=km,
                                    kernel_name=self.kernel_name,
                                    startup_timeout=self.startup_timeout)
            try:
                # The kernel's own chatter (e.g. transport warnings) is not report output.
                kwargs = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
                if self.cwd:
                    kwargs["cwd"] = self.cwd
                client.start_new_kernel(**kwargs)
                client.start_new_kernel_client()
            except Exception as exc:  # noqa: BLE001 - any start failure is retried
                last = exc
                self.failed_starts += 1
                logger.warning("kernel start failed (attempt %d/%d): %s", attempt,
                               self.retries, exc)
                _quiet_shutdown(km, client.kc)
                if attempt < self.retries:
                    time.sleep(self.backoff * attempt)
                continue
            self.km, self.kc = km, client.kc
            self.starts += 1
            return attempt
        raise KernelStartError(
            f"the notebook kernel {self.kernel_name!r} could not start after "
            f"{self.retries} attempts: {type(last).__name__}: {last}. Fix: check that the "
            f"kernel is installed (`jupyter kernelspec list`; `make install` installs it)."
        )

    def ensure(self) -> int:
        """Start the kernel unless a live one is there; return attempts used (0 if warm)."""
        if self.alive:
            return 0
        self.shutdown()
        return self.start()

    def reset(self, cwd: str | None = None) -> None:
        """Give the next report a clean namespace in the running kernel."""
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(RESET_CODE.format(cwd=cwd or self.cwd or "."))])
        client = NotebookClient(nb, km=self.km, kernel_name=self.kernel_name, timeout=120)
        client.kc = self.kc
        client.execute(cleanup_kc=False)
        for output in nb.cells[0].get("outputs", []):
            if output.get("output_type") == "error":
                raise ReportError(f"resetting the kernel failed: {output.get('evalue')}")

    def shutdown(self) -> None:
        """Stop the kernel and its client (safe to call twice)."""
        km, kc = self.km, self.kc
        self.km = self.kc = None
        if km is not None:
            _quiet_shutdown(km, kc)


def _sync(fn):
    from jupyter_core.utils import ensure_async, run_sync

    async def call(*a, **k):
        return await ensure_async(fn(*a, **k))

    return run_sync(call)


def _quiet_shutdown(km, kc) -> None:
    try:
        if kc is not None:
            kc.stop_channels()
    except Exception:  # noqa: BLE001
        pass
    try:
        if km is not None and _sync(lambda: km.has_kernel)():
            _sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001
        pass
    try:
        if km is not None:
            _sync(km.cleanup_resources)()
    except Exception:  # noqa: BLE001
        pass


class WarmKernelEngine(NBClientEngine):
    """Papermill engine executing on the kernel of a :class:`KernelSlot` (``slot=`` kwarg)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                 stderr_file=None, start_timeout=60, execution_timeout=None,
                                 **kwargs):
        slot: KernelSlot = kwargs.pop("slot")
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        client = PapermillNotebookClient(
            nb_man, km=slot.km, timeout=execution_timeout, startup_timeout=start_timeout,
            kernel_name=kernel_name, log=logger, log_output=log_output,
            stdout_file=stdout_file, stderr_file=stderr_file, **kwargs)
        client.kc = slot.kc
        return client.execute(cleanup_kc=False)


papermill_engines.register(ENGINE_NAME, WarmKernelEngine)
