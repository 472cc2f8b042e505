// Forms marked data-once send once: the submit button is disabled after the first submit,
// so a double click cannot post twice (the server also guards against it).
document.addEventListener("submit", function (event) {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once")) { return; }
  if (form.dataset.sent === "1") { event.preventDefault(); return; }
  form.dataset.sent = "1";
  form.querySelectorAll('button[type="submit"], input[type="submit"]').forEach(function (button) {
    button.setAttribute("aria-disabled", "true");
    button.classList.add("is-busy");
  });
});
