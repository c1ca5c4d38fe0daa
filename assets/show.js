// progressd show page: fetches the job's status JSON every `interval`
// seconds and updates the server-rendered bars in place (no reload, the
// scroll position stays). A big job's page (body.big-job) lists no worker from
// the server: it fetches pages of status (the workers that need attention,
// and the page of workers chosen with its filter, search, order and pager)
// and updates those in place the same way. Every figure comes from the JSON
// (computed by the server); this script only formats and places them.
// Client text is only ever set as textContent or a data attribute, never as
// HTML.
(function () {
  "use strict";

  var body = document.body;
  // The server writes the status URL already encoded (ASCII only), so the
  // id never has to survive HTML parsing and come back.
  var statusUrl = body.dataset.status;
  var interval = Math.max(1, Number(body.dataset.interval) || 30);
  var list = document.getElementById("workers");
  // Every list of worker rows on the page (the big-job page adds its
  // attention list).
  var lists = [list];
  var icons = {
    running: "\u25b6",
    done: "\u2714",
    failed: "\u2716",
    stale: "\u25f7",
    not_started: "\u25cb",
  };
  var svgNs = "http://www.w3.org/2000/svg";
  // The history URL: the status URL's query (jobid, token) on `history`.
  var historyUrl = statusUrl.replace(/^status/, "history");
  var renders = 0;
  // Server time minus client time, from each answer's `now`.
  var skew = Number(body.dataset.now) * 1000 - Date.now();

  function serverNow() {
    return (Date.now() + skew) / 1000;
  }

  // A span of seconds as the server's format::span says it.
  function span(secs) {
    var s = secs > 0 ? Math.round(secs) : 0;
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

  // A rate in the unit of `like`, as the server's format::rate_like()
  // writes it.
  function rateText(perSec, like) {
    if (like === undefined || like === null) like = perSec;
    var scale = 3600, unit = "h";
    if (like === 0 || like >= 1) { scale = 1; unit = "s"; }
    else if (like * 60 >= 1) { scale = 60; unit = "min"; }
    var value = perSec * scale;
    if (!isFinite(value)) { value = perSec; unit = "s"; }
    return qty(significant(value)) + "/" + unit;
  }

  // The job's median rate, whose unit every worker's rate is written in.
  var medianRate = null;

  // A running worker's rate and time left, as the server's format::rate_line().
  function rateLine(w, state) {
    if (state !== "running" || w.rate === null) return "";
    var rate = rateText(w.rate, medianRate);
    if (w.eta_seconds === null) return rate;
    return rate + " \u00b7 " + span(w.eta_seconds) + " left";
  }

  // A row's state in words, as the server's state_label().
  function stateLabel(state, slow) {
    if (slow) return "\u25bc slow";
    return icons[state] + " " + state.replace("_", " ");
  }

  // A quantity as the server's format::qty writes it, in the same steps
  // of plain arithmetic (toFixed() and toPrecision() would round halves
  // otherwise than Rust's formatting does).
  function qty(x) {
    if (x !== x) return "?";
    var sign = x < 0 ? "-" : "";
    var m = Math.abs(x);
    if (m === Infinity) return sign + "\u221e";
    if (m >= 1e15 || (m > 0 && m < 1e-3)) {
      var h = hundredths(m);
      return sign + h[0].toFixed(2) + "e" + h[1];
    }
    var whole = Math.trunc(m);
    var thousandths = Math.round((m - whole) * 1000);
    if (thousandths === 1000) { whole += 1; thousandths = 0; }
    var decimals = String(thousandths + 1000).slice(1).replace(/0+$/, "");
    return sign + String(whole) + (decimals ? "." + decimals : "");
  }

  // [mantissa from 1 to 10 rounded to hundredths, power of ten] of m > 0,
  // as the server's format::hundredths finds them.
  function hundredths(m) {
    var mantissa = m, exponent = 0;
    while (mantissa >= 10) { mantissa /= 10; exponent += 1; }
    while (mantissa < 1) { mantissa *= 10; exponent -= 1; }
    var rounded = Math.round(mantissa * 100) / 100;
    if (rounded >= 10) { rounded /= 10; exponent += 1; }
    return [rounded, exponent];
  }

  // x to three significant digits where qty() writes no exponent, as the
  // server's format::significant.
  function significant(x) {
    var m = Math.abs(x);
    if (!(m >= 1e-3 && m < 1e15)) return x;
    var h = hundredths(m), rounded = h[0], i;
    for (i = 0; i < h[1]; i++) rounded *= 10;
    for (i = h[1]; i < 0; i++) rounded /= 10;
    return x < 0 ? -rounded : rounded;
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
    li.tabIndex = 0;
    li.setAttribute("aria-expanded", "false");
    var wid = el("span", "wid");
    wid.textContent = workid;
    wid.title = workid;
    var track = el("span", "track");
    var txt = el("span", "txt");
    txt.appendChild(el("b"));
    txt.appendChild(document.createTextNode(" "));
    txt.appendChild(el("span", "pc"));
    txt.appendChild(el("span", "rate"));
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
        rate: li.querySelector(".rate"),
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
    var waiting = state === "not_started";
    setClass(li, "worker s-" + state + (w.slow ? " slow" : "") + (li.detail ? " open" : ""));
    li.dataset.state = state;
    // As the server draws it: the class for the width without script.
    setClass(p.fill, "fill p" + Math.round(w.percent));
    var width = w.percent + "%";
    if (p.fill.style.width !== width) p.fill.style.width = width;
    p.fill.dataset.percent = String(w.percent);
    var title = w.workid + ": " + (waiting ? "expected, no report yet" : qty(w.current) + " of " + qty(w.total));
    if (p.track.title !== title) p.track.title = title;
    setText(p.counts, waiting ? "not started yet" : qty(w.current) + "/" + qty(w.total));
    setText(p.pc, waiting ? "" : pct(w.percent));
    if (!p.rate) {
      p.rate = el("span", "rate");
      p.txt.insertBefore(p.rate, p.desc);
    }
    setText(p.rate, rateLine(w, state));
    if (!p.desc) {
      p.desc = el("i", "wdesc");
      p.txt.appendChild(p.desc);
    }
    setText(p.desc, w.desc);
    setText(p.st, stateLabel(state, w.slow));
    p.ago.dataset.t = waiting ? "" : String(w.updated);
    var stamp = waiting ? "no report yet" : "last report " + utc(w.updated);
    if (p.ago.title !== stamp) p.ago.title = stamp;
    li.worker = w;
  }

  // Points [[t, v], ...] as an SVG path across a width x height box, from
  // t0 to t1 and v 0 to vmax; closed down to the base for an area.
  function pathOf(points, t0, t1, vmax, width, height, area) {
    var dt = Math.max(t1 - t0, 1e-9);
    var d = "";
    points.forEach(function (pt, i) {
      var x = ((pt[0] - t0) / dt) * width;
      var y = height - (Math.min(pt[1], vmax) / (vmax || 1)) * height;
      d += (i ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
    });
    if (area && points.length) d += "L" + width + " " + height + "L0 " + height + "Z";
    return d;
  }

  // The burn-up chart: overall percent from the first point to now, the
  // last figure held until now.
  function drawBurnUp(points) {
    var svg = document.getElementById("burnup");
    if (!svg || !points.length) return;
    var now = serverNow();
    var end = Math.max(now, points[points.length - 1][0]);
    var held = points.concat([[end, points[points.length - 1][1]]]);
    var t0 = held[0][0];
    svg.querySelector(".area").setAttribute("d", pathOf(held, t0, end, 100, 600, 80, true));
    svg.querySelector(".line").setAttribute("d", pathOf(held, t0, end, 100, 600, 80, false));
    setText(document.getElementById("burnup-from"), utc(t0));
    setText(document.getElementById("burnup-span"), span(now - t0) + " shown");
  }

  // A worker's detail row: its sparkline and figures, from `history`.
  // Rows drawn by the server have no figures from the JSON until the first
  // status answer; a detail row asks for one at once rather than waiting.
  function fillDetail(li) {
    if (!li.worker) {
      refresh();
      return;
    }
    var w = li.worker;
    var detail = li.detail;
    // Only the answer to the latest request is drawn.
    var asked = (detail.asked || 0) + 1;
    detail.asked = asked;
    fetch(historyUrl + "&workid=" + encodeURIComponent(li.dataset.workid), { cache: "no-store" })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (h) {
        if (!h || li.detail !== detail || detail.asked !== asked) return;
        var points = h.workers.length ? h.workers[0].current : [];
        var svg = detail.querySelector("svg");
        var note = detail.querySelector("p");
        // `hidden` does nothing on an SVG element; `display` does.
        if (!points.length) {
          svg.setAttribute("display", "none");
          setText(note, "No report yet.");
          return;
        }
        svg.removeAttribute("display");
        var t0 = points[0][0];
        var t1 = Math.max(h.now, points[points.length - 1][0]);
        var held = points.concat([[t1, points[points.length - 1][1]]]);
        // Scaled to its own progress, so a slow worker's shape shows too.
        var top = held.reduce(function (m, p) { return Math.max(m, p[1]); }, 0) || 1;
        svg.querySelector(".area").setAttribute("d", pathOf(held, t0, t1, top, 300, 40, true));
        svg.querySelector(".line").setAttribute("d", pathOf(held, t0, t1, top, 300, 40, false));
        var parts = [points.length + " points since " + utc(t0) + ", up to " + qty(top) + " of " + qty(w.total)];
        if (w.rate !== null) parts.push("rate " + rateText(w.rate, medianRate) + " over its last reports");
        if (w.eta_seconds !== null) parts.push("done " + etaText(w.eta_seconds));
        if (w.slow) parts.push("slow: below half the job's median rate");
        setText(note, parts.join(" \u00b7 "));
      })
      .catch(function () {});
  }

  function openDetail(li) {
    var detail = el("div", "detail");
    var svg = document.createElementNS(svgNs, "svg");
    svg.setAttribute("viewBox", "0 0 300 40");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "progress of " + li.dataset.workid + " over time");
    ["area", "line"].forEach(function (k) {
      var path = document.createElementNS(svgNs, "path");
      path.setAttribute("class", k);
      svg.appendChild(path);
    });
    detail.appendChild(svg);
    detail.appendChild(el("p"));
    li.appendChild(detail);
    li.detail = detail;
    li.classList.add("open");
    li.setAttribute("aria-expanded", "true");
    fillDetail(li);
  }

  // Opens or closes a worker's detail row; the address keeps the open one
  // (#worker=ID), so a link can point at a worker.
  function toggleDetail(li) {
    var own = "#worker=" + encodeURIComponent(li.dataset.workid);
    var hash = own;
    if (li.detail) {
      li.detail.remove();
      li.detail = null;
      li.classList.remove("open");
      li.setAttribute("aria-expanded", "false");
      // Closing another row than the one named leaves the address alone.
      hash = location.hash === own ? "" : location.hash;
    } else {
      openDetail(li);
    }
    history.replaceState(null, "", location.pathname + location.search + hash);
  }

  // The row of `workid` in one of the lists, if it is on the page.
  function rowOf(workid) {
    for (var l = 0; l < lists.length; l++) {
      var rows = lists[l].children;
      for (var i = 0; i < rows.length; i++) {
        if (rows[i].dataset.workid === workid) return rows[i];
      }
    }
    return null;
  }

  // Opens the row named by the address (#worker=ID). On the big-job page
  // a worker that is on neither list is looked for with the search box.
  function openFromAddress() {
    var m = /^#worker=(.*)$/.exec(location.hash);
    if (!m) return;
    var workid = decodeURIComponent(m[1]);
    var li = rowOf(workid);
    if (li) {
      if (!li.detail) openDetail(li);
      li.scrollIntoView({ block: "center" });
    } else if (big && big.pendingOpen !== workid) {
      big.pendingOpen = workid;
      big.show({ q: workid });
    }
  }

  // Since when the server has not answered, if it has not.
  var unreachableSince = null;
  var lastReport = null;

  function tickAgo() {
    var now = serverNow();
    if (lastReport !== null) setText(document.getElementById("last"), span(now - lastReport) + " ago");
    lists.forEach(function (l) {
      var rows = l.children;
      for (var i = 0; i < rows.length; i++) {
        var ago = parts(rows[i]).ago;
        setText(ago, ago.dataset.t ? span(now - Number(ago.dataset.t)) + " ago" : "no report");
      }
    });
  }

  // The job's title, summary, counts and burn-up from a status answer.
  function renderSummary(job) {
    skew = job.now * 1000 - Date.now();
    var s = job.summary;
    medianRate = s.median_rate;
    setText(document.getElementById("title"), job.desc || job.jobid);
    document.title = (job.desc || job.jobid) + " \u00b7 progressd";
    setText(document.getElementById("overall"), pct(s.percent));
    var overall = document.getElementById("overall-fill");
    overall.className = "fill";
    overall.style.width = s.percent + "%";
    overall.dataset.percent = String(s.percent);
    ["running", "done", "failed", "stale", "not_started", "slow"].forEach(function (k) {
      var n = document.getElementById("n-" + k);
      setText(n, String(s[k]));
      if (k === "not_started" || k === "slow") n.parentNode.hidden = s[k] === 0;
    });
    drawBurnUp(s.history);
    lastReport = s.last_report;
    if (lastReport === null) setText(document.getElementById("last"), "no report yet");
    setText(document.getElementById("expires"), "expires " + utc(job.expires));
    var etaWrap = document.getElementById("eta-wrap");
    etaWrap.hidden = s.eta_seconds === null;
    if (s.eta_seconds !== null) setText(document.getElementById("eta"), etaText(s.eta_seconds));
    document.getElementById("eta-note").hidden = s.not_started === 0;
    document.getElementById("gone").hidden = true;
    body.classList.remove("gone");
  }

  // `list`'s rows made to show `workers`: reuse by workid, create what is
  // new, drop what is gone, and keep the server's order, all in one pass.
  function reconcile(list, workers) {
    var rows = new Map();
    var children = list.children;
    for (var i = 0; i < children.length; i++) rows.set(children[i].dataset.workid, children[i]);
    var next = list.firstElementChild;
    workers.forEach(function (w) {
      var li = rows.get(w.workid);
      if (li) rows.delete(w.workid);
      else li = newRow(w.workid);
      updateRow(li, w);
      if (li.detail) fillDetail(li);
      if (li !== next) list.insertBefore(li, next);
      else next = next.nextElementSibling;
    });
    rows.forEach(function (li) {
      li.remove();
    });
  }

  // Counts a finished update, how long it took and, the first time, when
  // it was done (from the start of the page's load), for anyone checking
  // a large job.
  function rendered(ms) {
    renders += 1;
    body.dataset.renders = String(renders);
    body.dataset.renderMs = ms.toFixed(1);
    if (renders === 1) body.dataset.firstRenderAt = performance.now().toFixed(1);
  }

  // The page of a job read whole: every worker from one status answer.
  function render(job) {
    var started = performance.now();
    renderSummary(job);
    document.getElementById("waiting").hidden = job.workers.length > 0;
    reconcile(list, job.workers);
    tickAgo();
    rendered(performance.now() - started);
  }

  // Says what kept the last status request from an answer: "unreachable"
  // (no answer, or an error), "refused" (401: the page's token, if any,
  // does not read), or null for nothing.
  function trouble(kind) {
    var notice = document.getElementById("offline");
    if (kind !== "unreachable") unreachableSince = null;
    if (kind === null) {
      notice.hidden = true;
      return;
    }
    if (kind === "refused") {
      setText(
        notice,
        "Not authorised: open the page with a read token (add token=READ_TOKEN to its address); the bars below may be out of date."
      );
    } else {
      if (unreachableSince === null) unreachableSince = Date.now() / 1000;
      setText(
        notice,
        "Cannot reach the server since " + utc(unreachableSince) + "; the bars below may be out of date. Retrying every " + interval + " s."
      );
    }
    notice.hidden = false;
  }

  // Fetches a status answer: {job} when there is one, {refused: message}
  // for a 400, null otherwise (having said why).
  function fetchStatus(url) {
    return fetch(url, { cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) trouble("refused");
        else trouble(r.ok || r.status === 404 || r.status === 400 ? null : "unreachable");
        if (r.status === 404) {
          // Deleted or expired: say so and grey out what is left.
          document.getElementById("gone").hidden = false;
          body.classList.add("gone");
          return null;
        }
        if (r.status === 400) {
          return r.text().then(function (text) {
            return { refused: text.trim() };
          });
        }
        if (!r.ok) return null;
        return r.json().then(function (job) {
          return { job: job };
        });
      })
      .catch(function () {
        trouble("unreachable");
        return null;
      });
  }

  // Fetches the status once and shows it.
  var refresh = function () {
    var started = performance.now();
    return fetchStatus(statusUrl).then(function (answer) {
      if (!answer || !answer.job) return;
      render(answer.job);
      // From the request to the page drawn.
      body.dataset.pollMs = (performance.now() - started).toFixed(1);
    });
  };

  // The page of a job too big to list whole: a histogram from the summary,
  // the workers that need attention, and the workers a page at a time.
  // Each poll asks for one page of status, with the summary and the
  // attention list (`attention=N`): one request, one pass over the job.
  function BigJob() {
    var self = this;
    var pageSize = Number(body.dataset.pageSize) || 100;
    var attentionRows = Number(body.dataset.attention) || 50;
    var attentionList = document.getElementById("attention");
    var panel = document.getElementById("list-panel");
    var search = document.getElementById("search");
    var sort = document.getElementById("sort");
    var chips = Array.prototype.slice.call(document.querySelectorAll(".chip[data-state]"));
    var buttons = {
      first: document.getElementById("page-first"),
      prev: document.getElementById("page-prev"),
      next: document.getElementById("page-next"),
      last: document.getElementById("page-last"),
    };
    // What the list shows: states (none: all), workid text, order, start.
    var view = { states: [], q: "", sort: "workid", offset: 0 };
    var matched = 0;
    // Only the answer to the latest request is drawn.
    var askedPage = 0;
    // The summary drawn last, by its time, so an older answer never
    // replaces a newer one.
    var summaryAt = -Infinity;
    var renderMs = 0;

    lists.push(attentionList);
    this.pendingOpen = null;

    function pageUrl() {
      var url = statusUrl + "&limit=" + pageSize + "&offset=" + view.offset + "&sort=" + view.sort + "&attention=" + attentionRows;
      if (view.states.length) url += "&state=" + view.states.join(",");
      if (view.q) url += "&q=" + encodeURIComponent(view.q);
      return url;
    }

    function summary(job) {
      if (job.now < summaryAt) return;
      summaryAt = job.now;
      renderSummary(job);
      drawHistogram(job.summary.histogram);
      chips.forEach(function (chip) {
        setText(document.getElementById("c-" + chip.dataset.state), String(job.summary[chip.dataset.state]));
      });
    }

    function plural(n, word) {
      return n + " " + word + (n === 1 ? "" : "s");
    }

    function drawPage(job) {
      var p = job.page;
      matched = p.matched;
      // Fewer match than before (workers recovered, a narrower search):
      // the last page that has any.
      if (!job.workers.length && matched > 0 && view.offset > 0) {
        view.offset = Math.floor((matched - 1) / pageSize) * pageSize;
        load();
        return;
      }
      reconcile(list, job.workers);
      var empty = document.getElementById("list-empty");
      empty.hidden = job.workers.length > 0;
      setText(empty, "No worker matches" + (view.states.length ? " these states" : "") + (view.q ? " and this search" : "") + ".");
      var pages = Math.max(1, Math.ceil(matched / pageSize));
      var page = Math.floor(view.offset / pageSize) + 1;
      setText(document.getElementById("page-of"), "page " + page + " of " + pages);
      buttons.first.disabled = buttons.prev.disabled = view.offset === 0;
      buttons.next.disabled = buttons.last.disabled = view.offset + pageSize >= matched;
      var all = view.states.length === 0 && !view.q;
      var note = job.workers.length
        ? (view.offset + 1) + "\u2013" + (view.offset + job.workers.length) + " of " + plural(matched, all ? "worker" : "matching worker")
        : plural(matched, all ? "worker" : "matching worker");
      setText(document.getElementById("list-note"), note);
      if (self.pendingOpen !== null) {
        var li = rowOf(self.pendingOpen);
        self.pendingOpen = null;
        if (li) {
          if (!li.detail) openDetail(li);
          li.scrollIntoView({ block: "center" });
        }
      }
    }

    // The attention list from an answer's `attention`: {page, workers}.
    function drawAttention(attention) {
      reconcile(attentionList, attention.workers);
      var n = attention.page.matched;
      var empty = document.getElementById("attention-empty");
      empty.hidden = n > 0;
      setText(empty, "Nothing needs attention: no worker has failed, gone stale or fallen behind.");
      setText(
        document.getElementById("attention-note"),
        n === 0 ? "" : n > attention.workers.length ? "the " + attention.workers.length + " worst of " + n + ", worst first" : plural(n, "worker") + ", worst first"
      );
      document.getElementById("attention-all").hidden = n <= attention.workers.length;
    }

    // Asks for the page `view` names and draws it; `busy` dims the list
    // while a person waits for it (never for a poll).
    function load(busy) {
      var asked = ++askedPage;
      if (busy) panel.classList.add("loading");
      return fetchStatus(pageUrl()).then(function (answer) {
        if (asked !== askedPage) return;
        panel.classList.remove("loading");
        if (!answer) return;
        if (answer.refused) {
          reconcile(list, []);
          var empty = document.getElementById("list-empty");
          empty.hidden = false;
          setText(empty, answer.refused);
          // The summary and the attention list still come, without the page.
          return fetchStatus(statusUrl + "&workers=0&attention=" + attentionRows).then(function (alone) {
            if (asked === askedPage && alone && alone.job) draw(alone.job);
          });
        }
        draw(answer.job);
      });
    }

    // Draws an answer: its summary, its page if it has one, its attention
    // list.
    function draw(job) {
      var started = performance.now();
      summary(job);
      if (job.page) drawPage(job);
      drawAttention(job.attention);
      tickAgo();
      renderMs += performance.now() - started;
    }

    // One poll: the visible page, the summary and the attention list, in
    // one answer.
    this.refresh = function () {
      var started = performance.now();
      renderMs = 0;
      return load(false).then(function () {
        rendered(renderMs);
        // From the request to the page drawn.
        body.dataset.pollMs = (performance.now() - started).toFixed(1);
      });
    };

    // Shows the list as `change` says (states, q, sort), from its first
    // page; the controls follow.
    this.show = function (change) {
      if (change.states !== undefined) view.states = change.states;
      if (change.q !== undefined) view.q = change.q;
      if (change.sort !== undefined) view.sort = change.sort;
      view.offset = 0;
      chips.forEach(function (chip) {
        chip.setAttribute("aria-pressed", String(view.states.indexOf(chip.dataset.state) >= 0));
      });
      if (search.value !== view.q) search.value = view.q;
      if (sort.value !== view.sort) sort.value = view.sort;
      return load(true);
    };

    function goTo(offset) {
      view.offset = Math.max(0, offset);
      load(true).then(function () {
        // Paging from the foot of the list: back to its head.
        if (panel.getBoundingClientRect().top < 0) panel.scrollIntoView({ block: "start" });
      });
    }

    chips.forEach(function (chip) {
      chip.addEventListener("click", function () {
        var state = chip.dataset.state;
        var states = chips
          .map(function (c) { return c.dataset.state; })
          .filter(function (s) {
            var on = view.states.indexOf(s) >= 0;
            return s === state ? !on : on;
          });
        self.show({ states: states });
      });
    });
    var typing = null;
    search.addEventListener("input", function () {
      clearTimeout(typing);
      typing = setTimeout(function () {
        self.show({ q: search.value });
      }, 250);
    });
    sort.addEventListener("change", function () {
      self.show({ sort: sort.value });
    });
    buttons.first.addEventListener("click", function () { goTo(0); });
    buttons.prev.addEventListener("click", function () { goTo(view.offset - pageSize); });
    buttons.next.addEventListener("click", function () { goTo(view.offset + pageSize); });
    buttons.last.addEventListener("click", function () {
      goTo(Math.floor(Math.max(matched - 1, 0) / pageSize) * pageSize);
    });
    document.getElementById("attention-all").addEventListener("click", function () {
      self.show({ states: ["failed", "stale", "slow"], q: "", sort: "attention" }).then(function () {
        panel.scrollIntoView({ block: "start" });
      });
    });
    // The browser may have kept what was typed or chosen across a reload.
    view.q = search.value;
    view.sort = sort.value || "workid";
  }

  // The histogram's columns from `summary.histogram`: each a stack of its
  // states, to scale with the fullest column, its count above and its
  // words for tooltips and screen readers.
  var histStates = ["running", "done", "failed", "stale", "not_started"];
  var histWords = { running: "running", done: "done", failed: "failed", stale: "stale", not_started: "not started" };

  // A bucket's range and workers in words, as the server's bucket_text().
  function bucketText(i, counts) {
    var total = counts.reduce(function (a, b) { return a + b; }, 0);
    var text = i * 5 + "\u2013" + (i + 1) * 5 + " %: " + total + " worker" + (total === 1 ? "" : "s");
    var states = [];
    counts.forEach(function (n, k) {
      if (n > 0) states.push(n + " " + histWords[histStates[k]]);
    });
    return states.length ? text + ": " + states.join(", ") : text;
  }

  // A count in at most five characters, as the server's compact().
  function compact(n) {
    function tenths(t, unit) {
      return Math.floor(t / 10) + (t % 10 ? "." + (t % 10) : "") + unit;
    }
    if (n === 0) return "";
    if (n < 1000) return String(n);
    if (n < 100000) return tenths(Math.floor(n / 100), "k");
    if (n < 1000000) return Math.floor(n / 1000) + "k";
    return tenths(Math.floor(n / 100000), "M");
  }

  // How the columns are scaled, as the server's histogram_scale(): a
  // column of n workers is drawn n / scale of the height, unless n is over
  // cutAbove. One to three columns over 4 times the next are drawn cut,
  // full height with a gap, and the rest to scale with the tallest of
  // them at 85 %; at least three columns stay to scale.
  function histogramScale(totals) {
    var filled = totals
      .filter(function (t) { return t > 0; })
      .sort(function (a, b) { return b - a; });
    var cuts = Math.min(3, Math.max(0, filled.length - 3));
    for (var k = 1; k <= cuts; k++) {
      if (filled[k - 1] > 4 * filled[k]) return { scale: filled[k] / 0.85, cutAbove: filled[k] };
    }
    return { scale: Math.max(1, filled.length ? filled[0] : 0), cutAbove: Infinity };
  }

  function drawHistogram(histogram) {
    var columns = document.getElementById("histogram").children;
    var counts = [];
    var totals = [];
    for (var i = 0; i < columns.length; i++) {
      counts.push(histStates.map(function (s) { return histogram[s][i]; }));
      totals.push(counts[i].reduce(function (a, b) { return a + b; }, 0));
    }
    var scaled = histogramScale(totals);
    var anyCut = false;
    for (var c = 0; c < columns.length; c++) {
      var col = columns[c];
      if (!col.parts) {
        col.parts = {
          n: col.querySelector(".hist-n"),
          segs: col.querySelectorAll(".seg"),
          sr: col.querySelector(".sr"),
        };
      }
      var total = totals[c];
      var cut = total > scaled.cutAbove;
      anyCut = anyCut || cut;
      col.classList.toggle("cut", cut);
      var text = bucketText(c, counts[c]);
      setText(col.parts.n, compact(total));
      setText(col.parts.sr, text);
      if (col.title !== text) col.title = text;
      // A cut column is full: its states share it.
      var of = cut ? total : scaled.scale;
      counts[c].forEach(function (n, k) {
        var seg = col.parts.segs[k];
        seg.hidden = n === 0;
        setClass(seg, "seg s-" + histStates[k]);
        var height = (100 * n) / of + "%";
        if (seg.style.height !== height) seg.style.height = height;
      });
    }
    document.getElementById("hist-cut").hidden = !anyCut;
  }

  var big = body.classList.contains("big-job") ? new BigJob() : null;
  if (big) refresh = big.refresh;

  function poll() {
    refresh().then(function () {
      setTimeout(poll, interval * 1000);
    });
  }

  // The server rendered the page just now; refine widths, then poll.
  var last = document.getElementById("last");
  if (last.dataset.t) lastReport = Number(last.dataset.t);
  document.querySelectorAll(".fill[data-percent]").forEach(function (fill) {
    fill.style.width = fill.dataset.percent + "%";
  });
  var burnUp = document.getElementById("burnup");
  if (burnUp) drawBurnUp(JSON.parse(burnUp.dataset.points || "[]"));
  lists.forEach(function (l) {
    l.addEventListener("click", function (e) {
      var li = e.target.closest(".worker");
      if (li && !e.target.closest(".detail")) toggleDetail(li);
    });
    l.addEventListener("keydown", function (e) {
      if ((e.key === "Enter" || e.key === " ") && e.target.classList.contains("worker")) {
        e.preventDefault();
        toggleDetail(e.target);
      }
    });
  });
  function followAddress() {
    try {
      openFromAddress();
    } catch (e) {
      // A malformed address opens nothing.
    }
  }
  window.addEventListener("hashchange", followAddress);
  body.dataset.renders = "0";
  setInterval(tickAgo, 5000);
  if (big) {
    // The lists come from the first poll, asked for once the summary is
    // on screen: answering it costs the server a pass over the job, and
    // on a busy machine that would hold up the first paint. Where no frame
    // comes (a hidden frame, a screenshot tool), after a second.
    var listsAsked = false;
    var askForLists = function () {
      if (listsAsked) return;
      listsAsked = true;
      big.refresh().then(function () {
        followAddress();
        setTimeout(poll, interval * 1000);
      });
    };
    requestAnimationFrame(function () {
      setTimeout(askForLists, 0);
    });
    setTimeout(askForLists, 1000);
  } else {
    followAddress();
    setTimeout(poll, interval * 1000);
  }
})();
