// The copy button appears only where the clipboard can be used; the text stays selectable.
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  if (!navigator.clipboard) { return; }
  button.hidden = false;
  button.addEventListener("click", function () {
    var text = document.getElementById(button.dataset.copy).textContent;
    navigator.clipboard.writeText(text).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy BibTeX"; }, 2000);
    });
  });
});
