// The simulator page: send typed text to POST /simulate/<skill> and show each turn.
// Everything shown comes from a skill or a transcript, so it is untrusted: it is only ever put
// into the page with textContent, never as HTML.
(function () {
  "use strict";
  var form = document.getElementById("sim");
  var log = document.getElementById("sim-log");
  var text = document.getElementById("sim-text");
  var skill = document.getElementById("sim-skill");
  var user = document.getElementById("sim-user");
  var sessionLabel = document.getElementById("sim-session");
  var sessionId = null;

  function newSession() {
    var rnd = window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random();
    sessionId = "console." + rnd;
    sessionLabel.textContent = sessionId;
  }

  function el(tag, cls, content) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (content !== undefined && content !== null) { node.textContent = String(content); }
    return node;
  }

  function line(parent, cls, label, value) {
    if (value === undefined || value === null || value === "") { return; }
    var p = el("p", cls);
    p.appendChild(el("span", "who", label));
    p.appendChild(document.createTextNode(" "));
    p.appendChild(el("span", "text", typeof value === "string" ? value : JSON.stringify(value)));
    parent.appendChild(p);
  }

  function showTurn(typed, turn) {
    var li = el("li", "turn");
    line(li, "user", "you", typed);
    if (turn.nlu) {
      var heard = turn.nlu.intent || turn.nlu.kind;
      var slots = turn.nlu.slots || {};
      Object.keys(slots).forEach(function (k) { heard += " " + k + "=" + slots[k].value; });
      line(li, "heard", "heard", heard);
    }
    line(li, "skill", turn.spoken_by === "dialog" ? "Alexa" : skill.value, turn.speech);
    if (turn.spoken_by === "dialog") {
      line(li, "note", "dialog", "asked by Alexa's dialog model: the skill was not called, no row was written");
    }
    line(li, "reprompt", "reprompt", turn.reprompt);
    if (turn.card) {
      line(li, "cardbox", "card", (turn.card.title || "") + " — " + (turn.card.content || turn.card.text || ""));
    }
    if (turn.directives && turn.directives.length) {
      line(li, "directives", "directives", turn.directives.map(function (d) { return d.type; }).join(", "));
    }
    if (turn.transaction) {
      var t = turn.transaction;
      line(li, "transaction", "transaction", [t.kind, t.reference, t.amount, t.currency].join(" "));
    }
    line(li, "note", "session", turn.end_session ? "ended" : "open");
    if (turn.transcript) {
      var details = el("details", "transcript");
      details.appendChild(el("summary", null, "transcript row #" + turn.transcript.id));
      details.appendChild(el("pre", null, JSON.stringify(turn.transcript, null, 2)));
      li.appendChild(details);
    }
    log.appendChild(li);
    li.scrollIntoView({block: "nearest"});
    if (turn.end_session) { newSession(); }
  }

  function showError(typed, message) {
    var li = el("li", "turn error");
    line(li, "user", "you", typed);
    li.appendChild(el("p", "errortext", message));
    log.appendChild(li);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var typed = text.value.trim();
    if (!typed) { return; }
    text.value = "";
    var url = form.getAttribute("data-endpoint").replace("SKILL", encodeURIComponent(skill.value));
    fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      credentials: "same-origin",
      body: JSON.stringify({text: typed, user_id: user.value || null, session_id: sessionId})
    }).then(function (resp) {
      return resp.json().then(function (body) { return {ok: resp.ok, body: body}; });
    }).then(function (r) {
      if (r.ok) { showTurn(typed, r.body); }
      else { showError(typed, (r.body.error && r.body.error.message) || "The simulator refused the request."); }
    }).catch(function (err) { showError(typed, "The server did not answer: " + err); });
  });
  document.getElementById("sim-new").addEventListener("click", function () { newSession(); log.textContent = ""; });
  skill.addEventListener("change", function () { newSession(); });
  user.addEventListener("change", function () { newSession(); });
  newSession();
  text.focus();
}());
