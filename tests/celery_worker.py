"""Real Celery worker processes for integration tests, on a real broker.

:class:`WorkerQueue` is one test's private queue on ``CELERY_BROKER_URL`` (a unique name, so
parallel test runs never take each other's tasks) and a small Celery client that sends tasks to
it by name, whatever the test settings' eager mode says. :meth:`WorkerQueue.start_worker` runs
``python -m celery -A example_site worker`` in its own process group with
``tests.worker_settings``: the test's database, its Redis cache, the broker and the given
``WAGTAIL_DYNCHAT["MARKETO"]``. It waits until the worker answers a control ping, and its output
goes to a log file that :meth:`Worker.log` reads back for failure messages::

    with WorkerQueue(db_name, marketo_settings) as queue:
        worker = queue.start_worker(pool="solo")
        queue.send("wagtail_dynchat.marketo.tasks.drain_outbox", "lead")
        worker.kill()  # SIGKILL, no warm shutdown

Leaving the ``with`` block kills every worker still running and deletes the queue.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from celery import Celery
from kombu import Exchange, Queue

ROOT = Path(__file__).resolve().parent.parent
#: Seconds a worker may take to import Django and the site and answer its first ping.
READY_TIMEOUT = 60


class WorkerError(RuntimeError):
    """A worker did not start, or died on its own."""


class Worker:
    """One ``celery worker`` process (and, with the prefork pool, its children)."""

    def __init__(self, name, process, log_path):
        self.name = name
        self.process = process
        self.log_path = log_path
        self.reaped = False

    @property
    def pid(self):
        return self.process.pid

    @property
    def alive(self):
        return self.process.poll() is None

    def log(self):
        """Everything the worker wrote so far (stdout and stderr)."""
        try:
            return Path(self.log_path).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self, sig=signal.SIGKILL):
        """Send ``sig`` to the worker's whole process group (pool children included), wait for
        the main process to end and then make sure no child outlives it."""
        if self.reaped:
            return  # its group id may belong to someone else by now
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        # A prefork child can outlive a main process that died first; the group id stays taken
        # while any member lives, so this reaches only our processes.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.reaped = True


class WorkerQueue:
    """A unique queue on the broker, the workers consuming it and a client sending to it."""

    def __init__(self, db_name, marketo=None, *, broker_url=None, log_dir=None):
        self.broker_url = broker_url or os.environ["CELERY_BROKER_URL"]
        self.db_name = db_name
        self.marketo = dict(marketo or {})
        self.name = f"dynchat-test-{uuid.uuid4().hex[:12]}"
        self.log_dir = log_dir or tempfile.mkdtemp(prefix="dynchat-workers-")
        self.workers: list[Worker] = []
        self.app = Celery("dynchat-test-client", broker=self.broker_url, set_as_current=False)
        self.app.conf.update(
            task_default_queue=self.name,
            broker_connection_retry_on_startup=True,
            task_always_eager=False,
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- tasks -----------------------------------------------------------------------------

    def send(self, task_name, *args):
        """Send the task ``task_name`` with ``args`` to this queue through the broker."""
        return self.app.send_task(task_name, args=list(args), queue=self.name)

    # -- workers ---------------------------------------------------------------------------

    def environment(self):
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "CELERY_BROKER_URL": self.broker_url,
            "DYNCHAT_WORKER_DB_NAME": self.db_name,
            "DYNCHAT_WORKER_QUEUE": self.name,
            "DYNCHAT_WORKER_MARKETO": json.dumps(self.marketo),
        }

    def start_worker(self, *, pool="solo", concurrency=1, wait=True):
        """Start a worker on this queue; with ``wait``, return once it answers a ping."""
        name = f"{self.name}-{len(self.workers) + 1}@{socket.gethostname()}"
        log_path = os.path.join(self.log_dir, f"worker-{len(self.workers) + 1}.log")
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "example_site",
            "worker",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            "-Q",
            self.name,
            "-n",
            name,
            "--loglevel=INFO",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: a kill reaches the pool children, not pytest.
                start_new_session=True,
            )
        worker = Worker(name, process, log_path)
        self.workers.append(worker)
        if wait:
            self.wait_ready(worker)
        return worker

    def wait_ready(self, worker, timeout=READY_TIMEOUT):
        """Block until ``worker`` answers a control ping over the broker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not worker.alive:
                raise WorkerError(f"worker {worker.name} exited early:\n{worker.log()}")
            replies = self.app.control.ping(destination=[worker.name], timeout=0.5)
            if any(worker.name in reply for reply in replies):
                return worker
        raise WorkerError(f"worker {worker.name} not ready after {timeout} s:\n{worker.log()}")

    def logs(self):
        """The logs of every worker started, headed by their names, for failure messages."""
        return "\n".join(f"--- {worker.name}\n{worker.log()}" for worker in self.workers)

    def close(self):
        """Kill every worker and delete the queue: its messages left (drains re-enqueued last)
        and its bindings on the broker."""
        for worker in self.workers:
            worker.kill()
        try:
            with self.app.connection_for_write() as connection:
                queue = Queue(self.name, Exchange(self.name), routing_key=self.name)
                bound = queue(connection.default_channel)
                bound.declare()  # known to this connection, so that delete() unbinds it too
                bound.delete()
        finally:
            self.app.close()
