// restgate admin console: small enhancements only; every page works without
// this file. Loaded from the same origin (the Content-Security-Policy allows
// no inline script).
"use strict";

// The overview refreshes itself every 3 seconds while it is visible.
function refreshOverview() {
  if (document.body.dataset.page !== "/" || document.hidden) return;
  fetch("/", { credentials: "same-origin", cache: "no-store" })
    .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
    .then((text) => {
      const fresh = new DOMParser().parseFromString(text, "text/html").getElementById("main");
      const main = document.getElementById("main");
      if (fresh && main) main.replaceChildren(...fresh.childNodes);
    })
    .catch(() => {});
}
setInterval(refreshOverview, 3000);

// Picking an attribute shows its TOML line (the link's #fragment does the
// same without JavaScript, through :target).
document.addEventListener("click", (e) => {
  const a = e.target.closest("a.attr");
  if (!a) return;
  document.querySelectorAll(".toml.shown").forEach((d) => d.classList.remove("shown"));
  const box = document.getElementById(a.getAttribute("href").slice(1));
  if (box) box.classList.add("shown");
});

// The pasted credential is cleared from the form once it is sent.
document.addEventListener("submit", (e) => {
  const field = e.target.querySelector("#credential");
  if (field) setTimeout(() => { field.value = ""; }, 0);
});
