// The "share a graphic" section's copy buttons: each copies the description (alt text) shown
// beside it. Without scripts the buttons stay hidden and the text is there to select.
(function () {
  "use strict";
  if (!navigator.clipboard) { return; }
  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = button.parentNode.querySelector("[data-copied]");
    if (!source) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent).then(function () {
        if (status) { status.hidden = false; }
      }, function () { /* refused: the text is still there to select */ });
    });
  });
}());
