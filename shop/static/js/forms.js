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

// A page restored by Back (the browser's page cache) gets its forms back in working order.
window.addEventListener("pageshow", function (event) {
  if (!event.persisted) { return; }
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    delete form.dataset.sent;
    form.querySelectorAll(".is-busy").forEach(function (button) {
      button.removeAttribute("aria-disabled");
      button.classList.remove("is-busy");
    });
  });
});

// After a form comes back with errors, start at the first field to correct. Again once the
// page has loaded: a form posted from an address with a fragment (#main, after the skip
// link) comes back with it, and the browser's scroll to the fragment takes the focus away.
function focusFirstInvalid() {
  const first = document.querySelector('main [aria-invalid="true"]');
  const active = document.activeElement;
  if (!(first instanceof HTMLElement)) { return; }
  if (active && active !== document.body && active !== first) { return; }  // the user moved on
  first.focus();
}
document.addEventListener("DOMContentLoaded", focusFirstInvalid);
window.addEventListener("load", function () { setTimeout(focusFirstInvalid, 0); });
