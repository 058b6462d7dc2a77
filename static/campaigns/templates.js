// The template editor. Everything works without this file; it inserts variables where the
// cursor is and shows the WhatsApp fields only for WhatsApp templates. The counter and the
// preview are htmx requests that listen to the body's input events.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-insert-variable]");
  if (!button) return;
  const body = document.getElementById("id_body");
  if (!body || body.readOnly) return;
  const text = `{{${button.dataset.insertVariable}}}`;
  const start = body.selectionStart ?? body.value.length;
  const end = body.selectionEnd ?? start;
  body.setRangeText(text, start, end, "end");
  body.focus();
  // As if typed: the counter and the preview update.
  body.dispatchEvent(new Event("input", { bubbles: true }));
});

function showChannelFields() {
  const channel = document.getElementById("id_channel");
  if (!channel) return;
  document.querySelectorAll("[data-channel-only]").forEach((element) => {
    element.hidden = element.dataset.channelOnly !== channel.value;
  });
}

document.addEventListener("change", (event) => {
  if (event.target.id === "id_channel") showChannelFields();
});
document.addEventListener("DOMContentLoaded", showChannelFields);
