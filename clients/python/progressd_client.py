"""Report progress to progressd from Python, with the standard library only.

    from progressd_client import create, tracking, update_many

    create("myjob", desc="My job", workers=4)   # expects workids 0, 1, 2, 3
    with tracking(job="myjob", worker=rank) as t:   # rank 0..3: the roster's ids
        for item in t.track(items):
            work(item)
    # a driver reporting many workers in one request:
    update_many("myjob", [(0, 5, 10), {"workid": 1, "current": 7, "total": 10}])

A progress report must never crash or stall the job it reports on: every
function here catches network and server errors (it logs a warning through
`logging` and returns False) and waits at most `timeout` seconds (default
5) for an answer. What it does raise is a mistake in the call that would
make the page say something false: an `ok` the server would not read as
meant, a roster it cannot send (ValueError, before anything is sent). The
server is `url` or $PROGRESSD_URL (default http://localhost:8080); the
write token, if the server has one, is `token` or $PROGRESSD_TOKEN, sent as
an Authorization header.
"""

import collections.abc
import contextlib
import logging
import math
import numbers
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

__all__ = ["create", "update", "update_many", "track", "tracking"]

log = logging.getLogger("progressd_client")

DEFAULT_URL = "http://localhost:8080"
DEFAULT_TIMEOUT = 5.0
# The server takes at most 1,000 updates in one batch and a body of 64 KiB.
BATCH_UPDATES = 1000
BATCH_BYTES = 60_000
# The fields of an update given as a tuple, in update()'s order.
UPDATE_FIELDS = ("workid", "current", "total", "desc", "ok", "seq")


# The words and numbers the server reads as `ok` (src/params.rs, ok_flag):
# false/no/true/yes in any ASCII case, or a number as Rust writes one
# (`0`, `-1.5`, `.5`, `1e3`, `inf`); NaN is refused.
OK_WORDS = {"false": 0, "no": 0, "true": 1, "yes": 1}
OK_NUMBER = re.compile(
    r"[+-]?(?:inf|infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)",
    re.ASCII | re.IGNORECASE,
)


class _BadOk(ValueError):
    """An `ok` the server would not read as meant: the one mistake in an
    update that raises rather than being logged, since it would show a
    failed worker as ok."""


def _ok_flag(ok):
    """`ok` as the server will read it, 0 (failed) or 1, for a bool, a
    number or a string in a form the server takes; ValueError for any
    other, before anything is sent: bool("0") is True, so guessing would
    report a failed worker as ok."""
    if isinstance(ok, (bool, numbers.Real)) and not math.isnan(ok):
        return int(ok != 0)
    if isinstance(ok, str):
        word = OK_WORDS.get(ok.lower())
        if word is not None:
            return word
        if OK_NUMBER.fullmatch(ok):
            return int(float(ok) != 0)
    raise _BadOk(
        f"ok must be a bool, a number (0 = failed) or true/false/yes/no, got {ok!r}"
    )


def _form(fields):
    """The fields that are not None, form-encoded (`ok` as 0 or 1)."""
    if fields.get("ok") is not None:
        fields = {**fields, "ok": _ok_flag(fields["ok"])}
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


def _encode_id(jobid):
    """The jobid form-encoded as progressd's pages, browsers and the shell
    client write it (urlencode but for `*` kept and `~` encoded): a front
    that shards by it (nginx hashes it as written, before decoding) then
    sends every request about a job to the same server."""
    return urllib.parse.quote_plus(str(jobid), safe="*").replace("~", "%7E")


def _post(endpoint, fields, url, token, timeout):
    """POSTs the fields that are not None as a form, but for the jobid,
    which goes in the query string: a front that shards the jobs among
    several servers by it (deploy/nginx-sharded.conf) sees only that. True
    on a 2xx answer."""
    try:
        query = "jobid=" + _encode_id(fields["jobid"])
        body = _form({name: v for name, v in fields.items() if name != "jobid"}).encode()
    except _BadOk:
        raise
    except Exception as e:  # a progress report must never crash the job
        log.warning("progressd %s failed: %s", endpoint, e)
        return False
    return _send(endpoint, query, body, url, token, timeout)


def create(
    jobid,
    desc=None,
    maxage=None,
    *,
    workers=None,
    workids=None,
    notify=None,
    url=None,
    token=None,
    timeout=DEFAULT_TIMEOUT,
):
    """Creates (or re-creates) job `jobid`; True once the server has it.

    `notify=True` asks the server to announce the job's events (finished,
    a worker failed or went stale, expired unfinished) to its
    --notify-url; a list such as `["finished", "failed"]` asks for those
    only. A server without --notify-url refuses it (False).

    A roster names the workers to expect, each shown "not started" until
    it reports: `workers=N` expects the workids 0 to N-1 (report with
    workid=rank, not f"rank{rank}"), `workids=[...]` exactly these. Give
    one or the other; an id holding a comma cannot be named in a roster
    (commas separate them): both are a ValueError, before anything is sent."""
    if workers is not None and workids is not None:
        raise ValueError("give workers=N or workids=[...], not both")
    if workids is not None:
        if isinstance(workids, str):
            raise ValueError(f"workids is a list of ids, got the string {workids!r}")
        workids = [str(workid) for workid in workids]
        with_comma = [workid for workid in workids if "," in workid]
        if with_comma:
            raise ValueError(f"a roster's ids cannot hold a comma, got {with_comma[0]!r}")
        workids = ",".join(workids)
    if notify is True or notify is False:
        notify = "1" if notify else "0"
    elif notify is not None and not isinstance(notify, str):
        notify = ",".join(str(kind) for kind in notify)
    fields = {
        "jobid": jobid,
        "desc": desc,
        "maxage": maxage,
        "workers": workers,
        "workids": workids,
        "notify": notify,
    }
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
    failed. `ok` takes what the server takes: a bool, a number (0 =
    failed), or the strings the server reads ("0", "1.5", "no", "True",
    ...); any other raises ValueError before anything is sent. True once
    the server has stored it."""
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
    with the next batch, and returns False. An `ok` it would not read as
    meant, in any update, raises ValueError before any batch goes."""
    query = "jobid=" + _encode_id(jobid)
    options = (url, token, timeout)
    try:
        # Every line first, so that a bad `ok` anywhere sends nothing.
        lines = [_update_line(item) for item in updates]
    except _BadOk:
        raise
    except Exception as e:  # a progress report must never crash the job
        log.warning("progressd update_many failed: %s", e)
        return False
    stored = True
    batch, size, first = [], 0, 1

    def send():
        last = first + len(batch) - 1
        what = f" for updates {first}-{last}" if last > first else f" for update {first}"
        body = ("\n".join(batch) + "\n").encode()
        return _send("update", query, body, *options, what=what)

    for line in lines:
        if batch and (len(batch) == BATCH_UPDATES or size + len(line) + 1 > BATCH_BYTES):
            stored = send() and stored
            first += len(batch)
            batch, size = [], 0
        batch.append(line)
        size += len(line) + 1
    if batch:
        stored = send() and stored
    return stored


def _length(iterable):
    """len(iterable), or None for an iterable without one (a generator)."""
    try:
        return len(iterable)
    except TypeError:
        return None


class Tracker:
    """One worker's progress, reported as `tracking` and `track` say."""

    def __init__(self, job, worker, total, every, desc, options):
        self.job, self.worker, self.every, self.desc = job, worker, every, desc
        # None while unknown: then no fraction is reported (see _report).
        self.total = total
        self.current = 0
        self._options = options
        self._last = time.monotonic()
        self._report()

    def update(self, current, desc=None):
        """Notes that the worker is at `current` (and `desc`, if given);
        reports it if `every` seconds have passed since the last report."""
        self.current = current
        if desc is not None:
            self.desc = desc
        if time.monotonic() - self._last >= self.every:
            self._report()

    def track(self, iterable):
        """Yields the items of `iterable`, counting them as `current`
        (from where the tracker is); takes len(iterable) as the total if
        the tracker has none."""
        if self.total is None and _length(iterable) is not None:
            self.total = self.current + _length(iterable)
            self._report()
        for item in iterable:
            yield item
            self.update(self.current + 1)

    def _report(self, ok=None, note=None):
        """Sends where the worker is. With the total unknown the server
        still needs one, and any number would invent a fraction: the bar
        shows 0 of 1 and the desc counts the items."""
        current, total = self.current, self.total
        desc = self.desc
        if total is None:
            current, total = 0, 1
            note = f"{self.current} done, total unknown" + (f"; {note}" if note else "")
        if note:
            desc = f"{desc}: {note}" if desc else note
        update(self.job, self.worker, current, total, desc, ok, **self._options)
        self._last = time.monotonic()

    def _end(self, error=None, closed=False):
        """The final report: failed on `error` (unless a clean SystemExit);
        when `closed` early by a loop that cannot tell a break from an
        exception, failed with where it stopped; else finished where it
        stopped."""
        where = f"{self.current} of {self.total}" if self.total is not None else f"{self.current}"
        if isinstance(error, SystemExit) and error.code in (None, 0):
            error = None
        if error is not None:
            text = f"failed at {where}: {type(error).__name__}: {error}"
            self._report(ok=False, note=text[:300])
        elif closed:
            self._report(ok=False, note=f"stopped early at {where}")
        elif self.total is None or self.current >= self.total:
            self.total = self.current if self.total is None else self.total
            self._report()
        else:
            # Ended early on purpose (a break, a return): done where it
            # stopped, not running until it turns stale.
            self.total = self.current
            self._report(note=f"stopped at {where}")


@contextlib.contextmanager
def tracking(
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
    """Reports worker `worker` of job `job` while the with-block runs:

        with tracking(job=jobid, worker=rank, total=n) as t:
            for i in range(n):
                work(i)
                t.update(i + 1)           # or: for item in t.track(items)

    It reports at the start, at most once every `every` seconds after, and
    at the end. An exception out of the block marks the worker failed, with
    the exception in its desc, and goes on. A block that ends cleanly short
    of `total` (a break, a return) is reported done where it stopped ("3 of
    10" in its desc: the total becomes 3), never left running to turn
    stale. Without a total (none given, and t.track() of an iterable
    without len()), the bar shows 0 of 1 and the desc counts the items
    until the end reports current = total = the count."""
    options = {"url": url, "token": token, "timeout": timeout}
    tracker = Tracker(job, worker, total, every, desc, options)
    try:
        yield tracker
    except BaseException as error:
        tracker._end(error)
        raise
    tracker._end()


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
    seconds after, and at the end. `total` defaults to len(iterable);
    without one, the bar shows 0 of 1 and the desc counts the items until
    the end (see `tracking`). If the iterable raises, the worker is
    reported failed.

    A generator cannot see an exception raised in the loop's body, nor tell
    it from a `break`: either only closes it early. So a loop left early
    is reported failed, with where it stopped ("stopped early at 3 of 10"),
    rather than done over an error it could not see. For a body that may
    raise or break on purpose, use `with tracking(...) as t: for item in
    t.track(iterable):`, which tells them apart."""
    if total is None:
        total = _length(iterable)
    options = {"url": url, "token": token, "timeout": timeout}
    tracker = Tracker(job, worker, total, every, desc, options)
    try:
        yield from tracker.track(iterable)
    except GeneratorExit:
        tracker._end(closed=True)
        raise
    except BaseException as error:
        tracker._end(error)
        raise
    tracker._end()
