// The upload page: warn before sending a file larger than the quota left (the server
// refuses it anyway), and copy the registration snippet.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  var quota = document.getElementById("quota");
  var warning = document.getElementById("size-warning");
  if (form && quota && warning) {
    var left = Number(quota.dataset.left);
    var input = form.querySelector("input[type=file]");
    var check = function () {
      var file = input && input.files && input.files[0];
      var tooLarge = Boolean(file) && file.size > left;
      warning.hidden = !tooLarge;
      warning.textContent = tooLarge
        ? "This file has " + file.size.toLocaleString() + " bytes, more than the " +
          quota.dataset.leftText + " left of your quota; the server will refuse it."
        : "";
      return !tooLarge;
    };
    if (input) input.addEventListener("change", check);
    form.addEventListener("submit", function (event) {
      if (!check()) event.preventDefault();
    });
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.dataset.copy).textContent;
      navigator.clipboard.writeText(text).then(function () {
        button.textContent = "Copied";
      });
    });
  });
})();
