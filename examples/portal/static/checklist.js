// Live password checklist: every rule re-evaluated by credflow as the person types.
(function () {
  "use strict";
  var list = document.getElementById("checklist");
  var input = document.querySelector("input[data-checklist]");
  if (!list || !input) { return; }
  var token = document.querySelector("meta[name=csrf-token]").content;
  var timer = null;
  function identifier() {
    var name = list.dataset.identifierField;
    var other = name ? input.form.querySelector("input[name='" + name + "']") : null;
    return other ? other.value : list.dataset.identifier;
  }
  function draw(report) {
    list.replaceChildren.apply(list, report.rules.map(function (rule) {
      var item = document.createElement("li");
      item.className = "rule rule-" + rule.status;
      item.dataset.code = rule.code;
      item.dataset.status = rule.status;
      item.textContent = rule.message;
      return item;
    }));
    list.dataset.ok = report.ok ? "1" : "0";
  }
  function check() {
    fetch(list.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": token},
      body: JSON.stringify({password: input.value, identifier: identifier()})
    }).then(function (r) { return r.json(); }).then(draw);
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 120);
  });
}());
