// Settings → Channels: the Copy buttons next to the webhook URLs. The clipboard API needs a
// secure context (https, localhost); without it the URL is selected and copied the old way,
// and if even that is refused it stays selected for Ctrl+C.
function selectText(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

function copiedWithoutClipboardApi(element) {
  selectText(element);
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  let copied = false;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    copied = true;
  } catch {
    copied = copiedWithoutClipboardApi(source);
  }
  button.textContent = copied ? "Copied" : "Selected: press Ctrl+C";
  window.setTimeout(() => {
    button.textContent = label;
  }, 2000);
});
