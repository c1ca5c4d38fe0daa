// progressd show page: fetches the job's status JSON every `interval`
// seconds and updates the server-rendered bars in place (no reload, the
// scroll position stays). Every figure comes from the JSON (computed by the
// server); this script only formats and places them. Client text is only
// ever set as textContent or a data attribute, never as HTML.
(function () {
  "use strict";

  var body = document.body;
  // The server writes the status URL already encoded (ASCII only), so the
  // id never has to survive HTML parsing and come back.
  var statusUrl = body.dataset.status;
  var interval = Math.max(1, Number(body.dataset.interval) || 30);
  var list = document.getElementById("workers");
  var icons = { running: "\u25b6", done: "\u2714", failed: "\u2716", stale: "\u25f7" };
  var renders = 0;
  // Server time minus client time, from each answer's `now`.
  var skew = Number(body.dataset.now) * 1000 - Date.now();

  function serverNow() {
    return (Date.now() + skew) / 1000;
  }

  // A span of seconds as the server's format::span says it.
  function span(secs) {
    var s = Math.round(Math.max(0, secs));
    if (s < 90) return s + " s";
    if (s < 5400) return Math.floor((s + 30) / 60) + " min";
    if (s < 172800) {
      var minutes = Math.floor((s + 30) / 60);
      var m = minutes % 60;
      return Math.floor(minutes / 60) + " h" + (m ? " " + m + " min" : "");
    }
    if (Math.floor(s / 86400) >= 400) return "over a year";
    return Math.floor((s + 43200) / 86400) + " days";
  }

  // An ETA as the server's format::eta says it.
  function etaText(secs) {
    return secs < 1 ? "any moment" : "in " + span(secs);
  }

  // A quantity as the server's format::qty writes it.
  function qty(x) {
    var m = Math.abs(x);
    if (m >= 1e15 || (m > 0 && m < 1e-3)) return x.toExponential(2).replace("e+", "e");
    if (Number.isInteger(x)) return String(x);
    return String(Number(x.toFixed(3)));
  }

  // A percent as the server's format::pct writes it: rounded down.
  function pct(p) {
    return (Math.floor(p * 10) / 10).toFixed(1) + "%";
  }

  // A Unix time as the server's format::utc writes it.
  function utc(t) {
    return new Date(t * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function el(tag, cls) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    return e;
  }

  // A new row with the same structure the server renders.
  function newRow(workid) {
    var li = el("li", "worker");
    li.dataset.workid = workid;
    var wid = el("span", "wid");
    wid.textContent = workid;
    wid.title = workid;
    var track = el("span", "track");
    var txt = el("span", "txt");
    txt.appendChild(el("b"));
    txt.appendChild(document.createTextNode(" "));
    txt.appendChild(el("span", "pc"));
    txt.appendChild(el("i", "wdesc"));
    track.appendChild(el("span", "fill"));
    track.appendChild(txt);
    li.appendChild(wid);
    li.appendChild(track);
    li.appendChild(el("span", "st"));
    li.appendChild(el("span", "ago"));
    return li;
  }

  function barState(w) {
    return w.state === "running" && w.stale ? "stale" : w.state;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  // The parts of a row that change, found once per row.
  function parts(li) {
    if (!li.parts) {
      li.parts = {
        fill: li.querySelector(".fill"),
        track: li.querySelector(".track"),
        txt: li.querySelector(".txt"),
        counts: li.querySelector(".txt b"),
        pc: li.querySelector(".pc"),
        desc: li.querySelector(".wdesc"),
        st: li.querySelector(".st"),
        ago: li.querySelector(".ago"),
      };
    }
    return li.parts;
  }

  function setClass(node, name) {
    if (node.className !== name) node.className = name;
  }

  function updateRow(li, w) {
    var p = parts(li);
    var state = barState(w);
    setClass(li, "worker s-" + state);
    li.dataset.state = state;
    setClass(p.fill, w.percent === 0 ? "fill p0" : "fill");
    var width = w.percent + "%";
    if (p.fill.style.width !== width) p.fill.style.width = width;
    p.fill.dataset.percent = String(w.percent);
    var title = w.workid + ": " + qty(w.current) + " of " + qty(w.total);
    if (p.track.title !== title) p.track.title = title;
    setText(p.counts, qty(w.current) + "/" + qty(w.total));
    setText(p.pc, pct(w.percent));
    if (!p.desc) {
      p.desc = el("i", "wdesc");
      p.txt.appendChild(p.desc);
    }
    setText(p.desc, w.desc);
    setText(p.st, icons[state] + " " + state);
    p.ago.dataset.t = String(w.updated);
    var stamp = "last report " + utc(w.updated);
    if (p.ago.title !== stamp) p.ago.title = stamp;
  }

  // Since when the server has not answered, if it has not.
  var unreachableSince = null;
  var lastReport = null;

  function tickAgo() {
    var now = serverNow();
    if (lastReport !== null) setText(document.getElementById("last"), span(now - lastReport) + " ago");
    var rows = list.children;
    for (var i = 0; i < rows.length; i++) {
      var ago = parts(rows[i]).ago;
      setText(ago, span(now - Number(ago.dataset.t)) + " ago");
    }
  }

  function render(job) {
    var started = performance.now();
    skew = job.now * 1000 - Date.now();
    var s = job.summary;
    setText(document.getElementById("title"), job.desc || job.jobid);
    document.title = (job.desc || job.jobid) + " \u00b7 progressd";
    setText(document.getElementById("overall"), pct(s.percent));
    var overall = document.getElementById("overall-fill");
    overall.className = "fill";
    overall.style.width = s.percent + "%";
    overall.dataset.percent = String(s.percent);
    ["running", "done", "failed", "stale"].forEach(function (k) {
      setText(document.getElementById("n-" + k), String(s[k]));
    });
    lastReport = s.last_report;
    if (lastReport === null) setText(document.getElementById("last"), "no report yet");
    setText(document.getElementById("expires"), "expires " + utc(job.expires));
    var etaWrap = document.getElementById("eta-wrap");
    etaWrap.hidden = s.eta_seconds === null;
    if (s.eta_seconds !== null) setText(document.getElementById("eta"), etaText(s.eta_seconds));
    document.getElementById("waiting").hidden = job.workers.length > 0;
    document.getElementById("gone").hidden = true;
    body.classList.remove("gone");

    // Rows: reuse by workid, create what is new, drop what is gone, and
    // keep the server's order, all in one pass.
    var rows = new Map();
    var children = list.children;
    for (var i = 0; i < children.length; i++) rows.set(children[i].dataset.workid, children[i]);
    var next = list.firstElementChild;
    job.workers.forEach(function (w) {
      var li = rows.get(w.workid);
      if (li) rows.delete(w.workid);
      else li = newRow(w.workid);
      updateRow(li, w);
      if (li !== next) list.insertBefore(li, next);
      else next = next.nextElementSibling;
    });
    rows.forEach(function (li) {
      li.remove();
    });
    tickAgo();
    renders += 1;
    body.dataset.renders = String(renders);
    // How long the last update took, for anyone checking a large job.
    body.dataset.renderMs = (performance.now() - started).toFixed(1);
  }

  function reachable(ok) {
    var notice = document.getElementById("offline");
    if (ok) {
      unreachableSince = null;
      notice.hidden = true;
      return;
    }
    if (unreachableSince === null) unreachableSince = Date.now() / 1000;
    setText(
      notice,
      "Cannot reach the server since " + utc(unreachableSince) + "; the bars below may be out of date. Retrying every " + interval + " s."
    );
    notice.hidden = false;
  }

  function poll() {
    fetch(statusUrl, { cache: "no-store" })
      .then(function (r) {
        reachable(r.ok || r.status === 404);
        if (r.status === 404) {
          // Deleted or expired: say so and grey out what is left.
          document.getElementById("gone").hidden = false;
          body.classList.add("gone");
          return null;
        }
        return r.ok ? r.json() : null;
      })
      .then(function (job) {
        if (job) render(job);
      })
      .catch(function () {
        reachable(false);
      })
      .then(function () {
        setTimeout(poll, interval * 1000);
      });
  }

  // The server rendered the page just now; refine widths, then poll.
  var last = document.getElementById("last");
  if (last.dataset.t) lastReport = Number(last.dataset.t);
  document.querySelectorAll(".fill[data-percent]").forEach(function (fill) {
    fill.style.width = fill.dataset.percent + "%";
  });
  body.dataset.renders = "0";
  setInterval(tickAgo, 5000);
  setTimeout(poll, interval * 1000);
})();
