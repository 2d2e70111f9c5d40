// The Mastodon server picker: the only script on the action page. It asks the supporter which
// server their account is on once, remembers it in this browser (localStorage) and never sends
// it anywhere but as ?instance= on the /go/ link they press. Without it, /go/ asks by itself.
(function () {
  "use strict";
  var KEY = "kindling.mastodon.instance";
  var HOST = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

  function load() { try { return window.localStorage.getItem(KEY) || ""; } catch (e) { return ""; } }
  function save(value) { try { window.localStorage.setItem(KEY, value); } catch (e) { /* private mode */ } }
  function forget() { try { window.localStorage.removeItem(KEY); } catch (e) { /* private mode */ } }
  function clean(value) {
    var text = value.trim().replace(/^https?:\/\//i, "").replace(/\/+$/, "");
    var at = text.lastIndexOf("@");
    if (at >= 0) { text = text.slice(at + 1); }
    return text.toLowerCase();
  }

  var dialog = document.getElementById("mastodon-dialog");
  var form = document.getElementById("mastodon-form");
  var input = document.getElementById("mastodon-instance");
  var remembered = document.getElementById("mastodon-remembered");

  function showRemembered() {
    if (!remembered) { return; }
    var host = load();
    remembered.hidden = !HOST.test(host);
    document.getElementById("mastodon-remembered-host").textContent = host;
  }

  if (form && input) {
    if (!input.value) { input.value = load(); }
    form.addEventListener("submit", function () {
      var host = clean(input.value);
      if (HOST.test(host)) { input.value = host; save(host); }
    });
  }
  if (dialog) {
    dialog.addEventListener("click", function (event) {
      if (event.target.hasAttribute("data-close")) { dialog.close(); }
    });
  }
  var forgetButton = document.getElementById("mastodon-forget");
  if (forgetButton) {
    forgetButton.addEventListener("click", function () { forget(); showRemembered(); if (input) { input.value = ""; } });
  }
  showRemembered();

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-mastodon]") : null;
    if (!link) { return; }
    var host = load();
    if (HOST.test(host)) {
      event.preventDefault();
      window.location.assign(link.href + "?instance=" + encodeURIComponent(host));
    } else if (dialog && form && typeof dialog.showModal === "function") {
      event.preventDefault();
      form.action = link.href;
      dialog.showModal();
      input.focus();
    }
    // Otherwise the link is followed and /go/ asks for the server itself.
  });
}());
