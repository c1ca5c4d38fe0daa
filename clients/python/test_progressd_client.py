"""Tests of progressd_client against a real progressd.

`cargo test` (tests/clients.rs) starts the server with a write token and
runs these with PROGRESSD_TEST_URL and PROGRESSD_TEST_TOKEN set.
"""

import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import progressd_client as pc

URL = os.environ.get("PROGRESSD_TEST_URL")
TOKEN = os.environ.get("PROGRESSD_TEST_TOKEN")

pytestmark = pytest.mark.skipif(not URL, reason="needs PROGRESSD_TEST_URL (run by cargo test)")


@pytest.fixture(autouse=True)
def server(monkeypatch):
    monkeypatch.setenv("PROGRESSD_URL", URL or "")
    monkeypatch.setenv("PROGRESSD_TOKEN", TOKEN or "")


def status(jobid):
    query = urllib.parse.urlencode({"jobid": jobid})
    with urllib.request.urlopen(f"{URL}/progress/status?{query}", timeout=5) as r:
        return json.load(r)


def worker(jobid, workid):
    return next(w for w in status(jobid)["workers"] if w["workid"] == workid)


def updates_answered():
    """Updates answered 200 so far, from /metrics, once the count holds
    still: a request is counted just after its answer, so the last one
    answered may not be counted yet."""
    counted = None
    while True:
        with urllib.request.urlopen(f"{URL}/metrics", timeout=5) as r:
            lines = r.read().decode().splitlines()
        name = 'progressd_requests_total{endpoint="/progress/update",status="200"}'
        now = next((int(float(l.split()[-1])) for l in lines if l.startswith(name)), 0)
        if now == counted:
            return now
        counted = now
        time.sleep(0.1)


def test_create_and_update_keep_odd_values_exactly():
    job = "py job & co+1 %20 ü"
    assert pc.create(job, desc='Désc "q" & =', maxage=3600)
    assert pc.update(job, "rank 0", 5, 10, desc="step 1/2 & more")
    assert pc.update(job, "rank 0", 7.5)
    assert pc.update(job, "rank 1", 3, 10, ok=False)
    assert status(job)["desc"] == 'Désc "q" & ='
    rank0 = worker(job, "rank 0")
    assert (rank0["current"], rank0["total"], rank0["desc"]) == (7.5, 10, "step 1/2 & more")
    assert worker(job, "rank 1")["ok"] is False


def test_track_reports_at_start_at_most_every_n_seconds_and_at_the_end():
    before = updates_answered()
    seen = list(pc.track(range(50), job="py-track", worker="w", every=3600))
    assert seen == list(range(50))
    # The start and the end only: the interval never passed.
    assert updates_answered() - before == 2
    w = worker("py-track", "w")
    assert (w["current"], w["total"], w["state"]) == (50, 50, "done")


def test_track_reports_as_often_as_asked():
    before = updates_answered()
    for _ in pc.track(range(5), job="py-often", worker="w", every=0):
        pass
    # Start, one per item, end.
    assert updates_answered() - before == 7


def test_track_without_a_length_invents_no_total():
    job = "py-gen"
    seen = []
    for i in pc.track((i for i in range(7)), job=job, worker="w", every=0):
        seen.append(worker(job, "w"))
    # While running: 0 of 1 and the count in the desc, never "4/5, 80 %".
    at4 = seen[4]
    assert (at4["current"], at4["total"], at4["state"]) == (0, 1, "running")
    assert at4["desc"] == "4 done, total unknown"
    w = worker(job, "w")
    assert (w["current"], w["total"], w["state"]) == (7, 7, "done")


def test_track_reports_a_broken_loop_stopped_where_it_stopped():
    for i in pc.track(range(10), job="py-break", worker="w", every=3600):
        if i == 3:
            break
    w = worker("py-break", "w")
    # It cannot tell a break from an error in the body: not done, not running.
    assert (w["current"], w["total"], w["state"]) == (3, 10, "failed")
    assert w["desc"] == "stopped early at 3 of 10"


def test_track_marks_a_failing_body_failed():
    with pytest.raises(RuntimeError):
        for i in pc.track(range(10), job="py-body", worker="w", every=3600):
            if i == 4:
                raise RuntimeError("disk on fire")
    w = worker("py-body", "w")
    assert (w["current"], w["total"], w["state"]) == (4, 10, "failed")


def test_track_marks_a_failing_iterable_failed():
    def items():
        yield from range(3)
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        for _ in pc.track(items(), job="py-fail", worker="w", total=10, every=3600):
            pass
    w = worker("py-fail", "w")
    assert (w["current"], w["ok"], w["state"]) == (3, False, "failed")
    assert w["desc"] == "failed at 3 of 10: RuntimeError: disk on fire"


def test_tracking_reports_updates_and_the_end():
    with pc.tracking(job="py-with", worker="w", total=5, every=0, desc="fit") as t:
        for i in range(1, 4):
            t.update(i)
            assert worker("py-with", "w")["current"] == i
        t.update(5, desc="fit done")
    w = worker("py-with", "w")
    assert (w["current"], w["total"], w["state"], w["desc"]) == (5, 5, "done", "fit done")


def test_tracking_marks_an_exception_in_the_body_failed():
    with pytest.raises(KeyError):
        with pc.tracking(job="py-with-fail", worker="w", every=3600) as t:
            for item in t.track(["a", "b", "c", "d"]):
                if item == "c":
                    raise KeyError(item)
    w = worker("py-with-fail", "w")
    assert (w["current"], w["total"], w["state"]) == (2, 4, "failed")
    assert w["desc"] == "failed at 2 of 4: KeyError: 'c'"


def test_tracking_reports_a_break_done_where_it_stopped():
    with pc.tracking(job="py-with-break", worker="w", every=3600, desc="search") as t:
        for item in t.track(range(10)):
            if item == 3:
                break
    w = worker("py-with-break", "w")
    assert (w["current"], w["total"], w["state"]) == (3, 3, "done")
    assert w["desc"] == "search: stopped at 3 of 10"


def test_tracking_takes_a_clean_exit_as_clean():
    with pytest.raises(SystemExit):
        with pc.tracking(job="py-with-exit", worker="w", total=2) as t:
            t.update(2)
            raise SystemExit(0)
    assert worker("py-with-exit", "w")["state"] == "done"


def test_update_reads_ok_as_the_server_does():
    job = "py-ok"
    for n, ok in enumerate(["0", "0.0", "-0", "no", "No", "FALSE", 0, 0.0, False]):
        assert pc.update(job, f"failed {n}", 1, 2, ok=ok)
        assert worker(job, f"failed {n}")["ok"] is False, ok
    for n, ok in enumerate(["1", "2.5", "1e3", ".5", "inf", "yes", "TRUE", 1, -1, True]):
        assert pc.update(job, f"ok {n}", 1, 2, ok=ok)
        assert worker(job, f"ok {n}")["ok"] is True, ok
    for ok in ["", "maybe", " 0", "0 ", "nan", "1_0", "٠", "falſe", float("nan"), b"0", [0]]:
        with pytest.raises(ValueError):
            pc.update("py-ok bad", "w", 1, 2, ok=ok)
        with pytest.raises(ValueError):
            pc.update_many("py-ok bad", [("w", 1, 2), ("w", 1, 2, None, ok)])
    # Nothing was sent: the job was never made.
    with pytest.raises(urllib.error.HTTPError) as missing:
        status("py-ok bad")
    assert missing.value.code == 404


def test_the_client_takes_the_forms_the_server_takes():
    """Each string the client takes the server takes too, reading it the
    same way, and each one it refuses the server refuses."""
    job = "py-ok-forms"
    forms = ["0", "+0", "-0.0", "0e5", "1.", ".5", "1E3", "-Infinity", "INF", "nO", "Yes", "tRUE"]
    forms += ["", "nan", "NaN", "1_0", " 1", "0x1", "1e", ".", "e5", "fals", "y", "٠"]
    for n, form in enumerate(forms):
        try:
            flag = pc._ok_flag(form)
        except ValueError:
            flag = None
        body = urllib.parse.urlencode({"jobid": job, "workid": n, "current": 1, "total": 2, "ok": form})
        request = urllib.request.Request(
            f"{URL}/progress/update",
            data=body.encode(),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        try:
            urllib.request.urlopen(request, timeout=5).read()
            stored = int(worker(job, str(n))["ok"])
        except urllib.error.HTTPError as refused:
            assert refused.code == 400
            stored = None
        assert flag == stored, form


def test_create_names_a_roster():
    assert pc.create("py-roster", workers=4)
    assert [w["workid"] for w in status("py-roster")["workers"]] == ["0", "1", "2", "3"]
    assert pc.update("py-roster", 2, 5, 10)
    assert worker("py-roster", "2")["state"] == "running"
    assert status("py-roster")["summary"]["not_started"] == 3
    assert pc.create("py-roster ids", workids=["rank0", "rank 1", 2])
    assert [w["workid"] for w in status("py-roster ids")["workers"]] == ["2", "rank 1", "rank0"]
    for bad in [{"workers": 2, "workids": ["a"]}, {"workids": ["a,b"]}, {"workids": "a,b"}]:
        with pytest.raises(ValueError):
            pc.create("py-roster bad", **bad)


def test_create_asks_for_notifications():
    # The test server has no --notify-url: it refuses a job that asks,
    # which shows the field is sent, and takes one that does not.
    assert pc.create("py-notify", notify=True) is False
    assert pc.create("py-notify", notify=["finished", "failed"]) is False
    assert pc.create("py-notify", notify=False)
    assert pc.create("py-notify", notify=[])


def test_errors_never_raise_and_never_stall():
    # Refused by the server (an empty jobid; a wrong token).
    assert pc.update("", "w", 1, 2) is False
    assert pc.update("py-token", "w", 1, 2, token="wrong") is False
    assert pc.create("py-token", token="wrong") is False
    # Nobody listening.
    started = time.monotonic()
    assert pc.update("j", "w", 1, 2, url="http://127.0.0.1:9") is False
    assert time.monotonic() - started < 5
    # A server that takes the connection and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        started = time.monotonic()
        assert pc.update("j", "w", 1, 2, url=f"http://127.0.0.1:{port}", timeout=0.5) is False
        assert time.monotonic() - started < 3
    # A bad URL, even.
    assert pc.update("j", "w", 1, 2, url="not a url") is False


def metric(name):
    """A counter from /metrics."""
    with urllib.request.urlopen(f"{URL}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[-1]))
    return 0


def test_update_many_stores_every_worker_in_batches_of_1000():
    job = "py many & co+1"
    batches = metric("progressd_update_batches_total")
    updates = [(f"rank {i}", i, 2500, "step 1/2 & more" if i % 2 else None) for i in range(2499)]
    updates.append({"workid": "rank ü", "current": 3, "total": 4, "ok": False, "seq": 7})
    assert pc.update_many(job, updates)
    assert metric("progressd_update_batches_total") - batches == 3
    workers = {w["workid"]: w for w in status(job)["workers"]}
    assert len(workers) == 2500
    assert (workers["rank 7"]["current"], workers["rank 7"]["desc"]) == (7, "step 1/2 & more")
    last = workers["rank ü"]
    assert (last["current"], last["total"], last["ok"], last["seq"]) == (3, 4, False, 7)
    # Later updates keep what they leave out; the later of two wins.
    assert pc.update_many(job, [("rank 7", 8), ("rank 7", 9, None, "later")])
    assert (worker(job, "rank 7")["current"], worker(job, "rank 7")["desc"]) == (9, "later")
    # One update makes a request as update() would; none makes none.
    assert pc.update_many(job, [("rank 8", 10)])
    assert worker(job, "rank 8")["current"] == 10
    assert pc.update_many(job, []) is True


def test_update_many_stores_nothing_of_a_batch_with_a_bad_update(caplog):
    job = "py many bad"
    assert pc.update_many(job, [("a", 1, 10), ("b", 2, 10), ("c", "abc", 10)]) is False
    assert "line 3: parameter 'current'" in caplog.text
    with pytest.raises(urllib.error.HTTPError) as missing:
        status(job)
    assert missing.value.code == 404
    # A store refusal (a first report without its total) is named too.
    assert pc.update_many(job, [("a", 1, 10), ("b", 2)]) is False
    assert "line 2: parameter 'total'" in caplog.text


def test_update_many_goes_on_after_a_refused_batch(caplog):
    job = "py many partial"
    updates = [(f"w{i}", 1, 2) for i in range(1500)]
    updates[1200] = ("w1200", -1, 2)
    assert pc.update_many(job, updates) is False
    assert "for updates 1001-1500" in caplog.text and "line 201:" in caplog.text
    assert len(status(job)["workers"]) == 1000


def test_update_many_errors_never_raise():
    assert pc.update_many("j", [("w", 1, 2)] * 2, url="http://127.0.0.1:9") is False
    assert pc.update_many("py-token", [("w", 1, 2)] * 2, token="wrong") is False
    assert pc.update_many("j", [("w", 1, 2, None, None, None, "extra")]) is False
    assert pc.update_many("j", [None]) is False
    assert pc.update_many("j", None) is False

    def failing():
        yield ("w", 1, 2)
        raise RuntimeError("broken generator")

    assert pc.update_many("j", failing()) is False
