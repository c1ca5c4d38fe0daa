"""Report progress to progressd from Python, with the standard library only.

    from progressd_client import create, update, update_many, track

    create("myjob", desc="My job")
    for item in track(items, job="myjob", worker=f"rank{rank}"):
        work(item)
    # a driver reporting many workers in one request:
    update_many("myjob", [("rank0", 5, 10), {"workid": "rank1", "current": 7, "total": 10}])

A progress report must never crash or stall the job it reports on: every
function here catches network and server errors (it logs a warning through
`logging` and returns False) and waits at most `timeout` seconds (default
5) for an answer. The server is `url` or $PROGRESSD_URL (default
http://localhost:8080); the write token, if the server has one, is `token`
or $PROGRESSD_TOKEN, sent as an Authorization header.
"""

import collections.abc
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["create", "update", "update_many", "track"]

log = logging.getLogger("progressd_client")

DEFAULT_URL = "http://localhost:8080"
DEFAULT_TIMEOUT = 5.0
# The server takes at most 1,000 updates in one batch and a body of 64 KiB.
BATCH_UPDATES = 1000
BATCH_BYTES = 60_000
# The fields of an update given as a tuple, in update()'s order.
UPDATE_FIELDS = ("workid", "current", "total", "desc", "ok", "seq")


def _form(fields):
    """The fields that are not None, form-encoded (`ok` as 0 or 1)."""
    if fields.get("ok") is not None:
        fields = {**fields, "ok": int(bool(fields["ok"]))}
    return urllib.parse.urlencode(
        {name: value for name, value in fields.items() if value is not None}
    )


def _send(endpoint, query, body, url, token, timeout, what=""):
    """POSTs `body` (bytes) to `endpoint` with `query`; True on a 2xx answer."""
    try:
        base = str(url or os.environ.get("PROGRESSD_URL") or DEFAULT_URL).rstrip("/")
        token = token if token is not None else os.environ.get("PROGRESSD_TOKEN")
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        target = f"{base}/progress/{endpoint}" + (f"?{query}" if query else "")
        request = urllib.request.Request(target, data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
            return True
    except urllib.error.HTTPError as e:
        # The server's one-line reason, e.g. a bad parameter or a cap.
        try:
            reason = e.read().decode("utf-8", "replace").strip()
        except Exception:
            reason = ""
        log.warning("progressd %s refused%s (%s): %s", endpoint, what, e.code, reason)
    except Exception as e:  # a progress report must never crash the job
        log.warning("progressd %s failed%s: %s", endpoint, what, e)
    return False


def _post(endpoint, fields, url, token, timeout):
    """POSTs the fields that are not None as a form; True on a 2xx answer."""
    try:
        body = _form(fields).encode()
    except Exception as e:  # a progress report must never crash the job
        log.warning("progressd %s failed: %s", endpoint, e)
        return False
    return _send(endpoint, "", body, url, token, timeout)


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
        "ok": ok,
    }
    return _post("update", fields, url, token, timeout)


def _update_line(item):
    """One update of update_many() as a line of a batch."""
    if isinstance(item, collections.abc.Mapping):
        fields = dict(item)
    else:
        values = tuple(item)
        if len(values) > len(UPDATE_FIELDS):
            raise ValueError(f"an update has at most {len(UPDATE_FIELDS)} fields, got {values!r}")
        fields = dict(zip(UPDATE_FIELDS, values))
    return _form(fields)


def update_many(jobid, updates, *, url=None, token=None, timeout=DEFAULT_TIMEOUT):
    """Reports many workers of job `jobid` at once, for a driver that
    watches them all. Each update is a dict with update()'s fields
    (`workid`, `current`, and as needed `total`, `desc`, `ok`, `seq`) or a
    tuple in that order, e.g. ("rank3", 5, 10). They go as batches of at
    most 1,000 (and 60 KB), one request each, in one commit each: a batch
    is stored whole or not at all, and the same worker twice ends as its
    later update says. True once every batch is stored (and for no
    updates); else it logs the server's reason (which names the bad update
    of its batch by line, line 1 being the batch's first update), goes on
    with the next batch, and returns False."""
    query = urllib.parse.urlencode({"jobid": jobid})
    options = (url, token, timeout)
    stored = True
    lines, size, first = [], 0, 1

    def send():
        last = first + len(lines) - 1
        what = f" for updates {first}-{last}" if last > first else f" for update {first}"
        body = ("\n".join(lines) + "\n").encode()
        return _send("update", query, body, *options, what=what)

    try:
        for item in updates:
            line = _update_line(item)
            if lines and (len(lines) == BATCH_UPDATES or size + len(line) + 1 > BATCH_BYTES):
                stored = send() and stored
                first += len(lines)
                lines, size = [], 0
            lines.append(line)
            size += len(line) + 1
        if lines:
            stored = send() and stored
    except Exception as e:  # a progress report must never crash the job
        log.warning("progressd update_many failed: %s", e)
        return False
    return stored


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
