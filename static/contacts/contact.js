// The contact pages. Every form works without this file; it only adds confirmations and lets
// htmx show refusals (4xx answers that name where they go with HX-Retarget) in place.
document.addEventListener(
  "submit",
  (event) => {
    const button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
      // Capture phase: stop before htmx's own listener on the form sends anything.
      event.preventDefault();
      event.stopPropagation();
    }
  },
  true,
);

document.addEventListener("htmx:beforeSwap", (event) => {
  const xhr = event.detail.xhr;
  if (xhr.status >= 400 && xhr.status < 500 && xhr.getResponseHeader("HX-Retarget")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
