// Progressive enhancements; every form here also works without JavaScript.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select) select.form.requestSubmit();
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-theme-toggle]");
  if (!button) return;
  // Switch at once, then remember the choice on the server.
  event.preventDefault();
  const root = document.documentElement;
  const next = root.dataset.theme === "light" ? "dark" : "light";
  root.dataset.theme = next;
  const form = button.form;
  const body = new FormData(form);
  body.set("theme", next);
  fetch(form.action, { method: "POST", body, headers: { "HX-Request": "true" } });
  button.value = next === "light" ? "dark" : "light";
  button.textContent = next === "light" ? "☾ Dark" : "☀ Light";
  button.title = `Switch to ${button.value} theme`;
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const target = document.getElementById(button.dataset.copy);
  navigator.clipboard.writeText(target.textContent.trim());
  button.textContent = "Copied";
});
