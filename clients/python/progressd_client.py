"""Report progress to progressd from Python, with the standard library only.

    from progressd_client import create, update, track

    create("myjob", desc="My job")
    for item in track(items, job="myjob", worker=f"rank{rank}"):
        work(item)

A progress report must never crash or stall the job it reports on: every
function here catches network and server errors (it logs a warning through
`logging` and returns False) and waits at most `timeout` seconds (default
5) for an answer. The server is `url` or $PROGRESSD_URL (default
http://localhost:8080); the write token, if the server has one, is `token`
or $PROGRESSD_TOKEN, sent as an Authorization header.
"""

import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["create", "update", "track"]

log = logging.getLogger("progressd_client")

DEFAULT_URL = "http://localhost:8080"
DEFAULT_TIMEOUT = 5.0


def _post(endpoint, fields, url, token, timeout):
    """POSTs the fields that are not None as a form; True on a 2xx answer."""
    try:
        base = str(url or os.environ.get("PROGRESSD_URL") or DEFAULT_URL).rstrip("/")
        body = urllib.parse.urlencode(
            {name: value for name, value in fields.items() if value is not None}
        ).encode()
        token = token if token is not None else os.environ.get("PROGRESSD_TOKEN")
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(f"{base}/progress/{endpoint}", data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
            return True
    except urllib.error.HTTPError as e:
        # The server's one-line reason, e.g. a bad parameter or a cap.
        try:
            reason = e.read().decode("utf-8", "replace").strip()
        except Exception:
            reason = ""
        log.warning("progressd %s refused (%s): %s", endpoint, e.code, reason)
    except Exception as e:  # a progress report must never crash the job
        log.warning("progressd %s failed: %s", endpoint, e)
    return False


def create(jobid, desc=None, maxage=None, *, url=None, token=None, timeout=DEFAULT_TIMEOUT):
    """Creates (or re-creates) job `jobid`; True once the server has it."""
    fields = {"jobid": jobid, "desc": desc, "maxage": maxage}
    return _post("create", fields, url, token, timeout)


def update(
    jobid,
    workid,
    current,
    total=None,
    desc=None,
    ok=None,
    *,
    url=None,
    token=None,
    timeout=DEFAULT_TIMEOUT,
):
    """Reports worker `workid` of job `jobid` at `current` of `total`
    (needed on a worker's first report, kept after); `ok=False` marks it
    failed. True once the server has stored it."""
    fields = {
        "jobid": jobid,
        "workid": workid,
        "current": current,
        "total": total,
        "desc": desc,
        "ok": None if ok is None else int(bool(ok)),
    }
    return _post("update", fields, url, token, timeout)


def track(
    iterable,
    job,
    worker,
    total=None,
    every=10.0,
    desc=None,
    *,
    url=None,
    token=None,
    timeout=DEFAULT_TIMEOUT,
):
    """Yields the items of `iterable`, like tqdm, reporting progress as
    worker `worker` of job `job`: at the start, at most once every `every`
    seconds after, and always at the end (also when the loop stops early).
    `total` defaults to len(iterable); without one, the bar shows the items
    done so far as nearly complete, and complete at the end. If iterating
    raises, the worker is reported failed before the exception goes on."""
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    options = {"url": url, "token": token, "timeout": timeout}

    def report(done, final=False, ok=None):
        known = total if total is not None else done + (0 if final else 1)
        update(job, worker, done, known, desc, ok, **options)

    done = 0
    report(done)
    last = time.monotonic()
    try:
        for item in iterable:
            yield item
            done += 1
            if time.monotonic() - last >= every:
                report(done)
                last = time.monotonic()
    except GeneratorExit:
        # The loop stopped early (a break, or an exception in its body).
        report(done, final=True)
        raise
    except BaseException:
        report(done, ok=False)
        raise
    report(done, final=True)
