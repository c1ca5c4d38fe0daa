// progressd show page: fetches the job's status JSON every `interval`
// seconds and updates the server-rendered bars in place (no reload, the
// scroll position stays). A big job's page (body.big-job) lists no worker from
// the server: it fetches pages of status (the workers that need attention,
// and the page of workers chosen with its filter, search, order and pager)
// and updates those in place the same way. Every figure and every text
// comes from the JSON (status?text=1 adds the page's texts, written by the
// server as it writes the page), and every row is a copy of the row the
// server put in <template id="row">: this script places them, and formats
// nothing but the span since a last report, which grows between polls.
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
  var rowTemplate = document.getElementById("row").content.firstElementChild;
  var svgNs = "http://www.w3.org/2000/svg";
  // The history URL: the status URL's query (jobid, token) on `history`.
  var historyUrl = statusUrl.replace(/^status/, "history");
  var renders = 0;
  // Server time minus client time, from each answer's `now`.
  var skew = Number(body.dataset.now) * 1000 - Date.now();

  function serverNow() {
    return (Date.now() + skew) / 1000;
  }

  // A span of seconds as the server's format::span says it: the one text
  // the script writes itself, as the time since a report grows between
  // polls.
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

  function el(tag, cls) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    return e;
  }

  // A new row: a copy of the server's, with its workid.
  function newRow(workid) {
    var li = rowTemplate.cloneNode(true);
    li.dataset.workid = workid;
    var wid = li.querySelector(".wid");
    wid.textContent = workid;
    wid.title = workid;
    return li;
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

  function setTitle(node, title) {
    if (node.title !== title) node.title = title;
  }

  // A row made to show `w`, from its texts.
  function updateRow(li, w) {
    var p = parts(li);
    var t = w.text;
    setClass(li, t["class"] + (li.detail ? " open" : ""));
    li.dataset.state = t.state;
    // As the server draws it: the class for the width without script.
    setClass(p.fill, "fill p" + Math.round(w.percent));
    var width = w.percent + "%";
    if (p.fill.style.width !== width) p.fill.style.width = width;
    p.fill.dataset.percent = String(w.percent);
    setTitle(p.track, t.track);
    setText(p.counts, t.counts);
    setText(p.pc, t.percent);
    setText(p.rate, t.rate);
    setText(p.desc, w.desc);
    setText(p.st, t.label);
    p.ago.dataset.t = w.updated === null ? "" : String(w.updated);
    setTitle(p.ago, t.stamp);
    setText(p.ago, t.ago);
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
        // Scaled to its total, so a worker that failed halfway ends
        // halfway up (to its highest point if it went past its total).
        var top = held.reduce(function (m, p) { return Math.max(m, p[1]); }, w.total) || 1;
        svg.querySelector(".area").setAttribute("d", pathOf(held, t0, t1, top, 300, 40, true));
        svg.querySelector(".line").setAttribute("d", pathOf(held, t0, t1, top, 300, 40, false));
        var text = h.workers[0].text;
        var parts = [points.length + " points since " + text.since + ", up to " + text.top + " of " + w.text.total];
        if (w.text.detail) parts.push(w.text.detail);
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

  var lastReport = null;
  // The summary's counts: <b id="n-STATE">.
  var counts = Array.prototype.slice.call(document.querySelectorAll(".counts b[id^='n-']"));

  function tickAgo() {
    var now = serverNow();
    if (lastReport !== null) setText(document.getElementById("last"), span(now - lastReport) + " ago");
    lists.forEach(function (l) {
      var rows = l.children;
      for (var i = 0; i < rows.length; i++) {
        var ago = parts(rows[i]).ago;
        // A row without a report keeps the server's words.
        if (ago.dataset.t) setText(ago, span(now - Number(ago.dataset.t)) + " ago");
      }
    });
  }

  // The job's title, summary, counts and burn-up from a status answer.
  function renderSummary(job) {
    skew = job.now * 1000 - Date.now();
    var s = job.summary;
    var t = s.text;
    setText(document.getElementById("title"), job.desc || job.jobid);
    document.title = (job.desc || job.jobid) + " \u00b7 progressd";
    setText(document.getElementById("overall"), t.percent);
    var overall = document.getElementById("overall-fill");
    overall.className = "fill";
    overall.style.width = s.percent + "%";
    overall.dataset.percent = String(s.percent);
    // The legend's counts, one per state the server listed.
    counts.forEach(function (n) {
      var k = n.id.slice(2);
      setText(n, String(s[k]));
      if (n.parentNode.hasAttribute("data-hide-zero")) n.parentNode.hidden = s[k] === 0;
    });
    drawBurnUp(s.history);
    setText(document.getElementById("burnup-from"), t.burn_up_from);
    lastReport = s.last_report;
    if (lastReport === null) setText(document.getElementById("last"), "no report yet");
    setText(document.getElementById("expires"), t.expires);
    var etaWrap = document.getElementById("eta-wrap");
    etaWrap.hidden = t.eta === null;
    if (t.eta !== null) setText(document.getElementById("eta"), t.eta);
    document.getElementById("eta-note").hidden = s.not_started === 0;
    document.getElementById("completed-wrap").hidden = t.completed === null;
    if (t.completed !== null) setText(document.getElementById("completed"), t.completed);
    // The roster's warning holds while some of its workers have not
    // started; it goes once they all have.
    var warning = document.getElementById("roster-warning");
    if (s.not_started === 0) warning.hidden = true;
    else setText(document.getElementById("roster-waiting"), String(s.not_started));
    var doneCount = document.getElementById("done-count");
    if (doneCount) setText(doneCount, String(s.done));
    document.getElementById("gone").hidden = true;
    document.getElementById("offline").dataset.heard = t.now;
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

  // The small page's toggles (links, so the address keeps them): problems
  // first, in the order the server wrote (`data-attention-order`), and
  // done workers hidden.
  var toggles = {
    sort: document.getElementById("problems-first"),
    hide: document.getElementById("hide-done"),
  };
  var attentionOrder = (body.dataset.attentionOrder || "").split(",");
  var lastJob = null;

  function pressed(toggle) {
    return !!toggle && toggle.getAttribute("aria-pressed") === "true";
  }

  // Where a worker comes when problems come first: slow, else its state.
  function rankOf(w) {
    var key = (" " + w.text["class"] + " ").indexOf(" slow ") >= 0 ? "slow" : w.text.state;
    var rank = attentionOrder.indexOf(key);
    return rank < 0 ? attentionOrder.length : rank;
  }

  // The rows the toggles ask for, in their order (a stable sort keeps the
  // natural order within a rank).
  function shownWorkers(workers) {
    var shown = workers;
    if (pressed(toggles.hide)) {
      shown = shown.filter(function (w) { return w.text.state !== "done"; });
    }
    if (pressed(toggles.sort)) {
      shown = shown
        .map(function (w, i) { return { w: w, rank: rankOf(w), i: i }; })
        .sort(function (a, b) { return a.rank - b.rank || a.i - b.i; })
        .map(function (r) { return r.w; });
    }
    return shown;
  }

  // The address with the toggles as they are: sort=attention, hide=done.
  function viewAddress(problemsFirst, hideDone) {
    var params = new URLSearchParams(location.search);
    if (problemsFirst) params.set("sort", "attention");
    else params.delete("sort");
    if (hideDone) params.set("hide", "done");
    else params.delete("hide");
    return location.pathname + "?" + params.toString();
  }

  // After a toggle: the address, each toggle's link (to flip it), the rows.
  function followToggles() {
    var first = pressed(toggles.sort);
    var hide = pressed(toggles.hide);
    history.replaceState(null, "", viewAddress(first, hide) + location.hash);
    toggles.sort.href = viewAddress(!first, hide);
    toggles.hide.href = viewAddress(first, !hide);
    if (lastJob) render(lastJob);
    else refresh();
  }

  [toggles.sort, toggles.hide].forEach(function (toggle) {
    if (!toggle) return;
    toggle.addEventListener("click", function (e) {
      e.preventDefault();
      toggle.setAttribute("aria-pressed", String(!pressed(toggle)));
      followToggles();
    });
  });

  // The page of a job read whole: every worker from one status answer.
  function render(job) {
    var started = performance.now();
    lastJob = job;
    renderSummary(job);
    document.getElementById("waiting").hidden = job.workers.length > 0;
    reconcile(list, shownWorkers(job.workers));
    tickAgo();
    rendered(performance.now() - started);
  }

  // Says what kept the last status request from an answer: "unreachable"
  // (no answer, or an error), "refused" (401: the page's token, if any,
  // does not read), or null for nothing.
  function trouble(kind) {
    var notice = document.getElementById("offline");
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
      // Since the last answer, in the server's words.
      setText(
        notice,
        "Cannot reach the server since " + notice.dataset.heard + "; the bars below may be out of date. Retrying every " + interval + " s."
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
      drawHistogram(job.summary.text.histogram);
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
    var attentionAll = document.getElementById("attention-all");
    attentionAll.addEventListener("click", function () {
      self.show({ states: attentionAll.dataset.states.split(","), q: "", sort: "attention" }).then(function () {
        panel.scrollIntoView({ block: "start" });
      });
    });
    // The browser may have kept what was typed or chosen across a reload.
    view.q = search.value;
    view.sort = sort.value || "workid";
  }

  // The histogram's columns from the summary's texts: each a stack of its
  // states, its count above and its words for tooltips and screen readers.
  function drawHistogram(histogram) {
    var columns = document.getElementById("histogram").children;
    var anyCut = false;
    for (var c = 0; c < columns.length; c++) {
      var col = columns[c];
      var h = histogram[c];
      if (!col.parts) {
        col.parts = {
          n: col.querySelector(".hist-n"),
          segs: col.querySelectorAll(".seg"),
          sr: col.querySelector(".sr"),
        };
      }
      anyCut = anyCut || h.cut;
      col.classList.toggle("cut", h.cut);
      setText(col.parts.n, h.n);
      setText(col.parts.sr, h.title);
      setTitle(col, h.title);
      h.heights.forEach(function (share, k) {
        var seg = col.parts.segs[k];
        seg.hidden = share === 0;
        var height = share + "%";
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
