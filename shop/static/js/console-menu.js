// On a phone the console's menu folds behind a "Menu" button, so a page starts with its own
// content rather than twenty links. Without this script the menu simply stays open.
(function () {
  const nav = document.querySelector(".console-nav");
  const toggle = nav && nav.querySelector(".console-menu-toggle");
  if (!toggle) { return; }
  nav.classList.add("foldable");
  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !nav.classList.contains("open")) { return; }
    toggle.setAttribute("aria-expanded", "false");
    nav.classList.remove("open");
    toggle.focus();
  });
})();
