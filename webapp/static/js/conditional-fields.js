// Fields that apply only under a choice (JSON Schema if/then, read on the server into
// data-show-when="[{field: [values]}, …]"): shown when any condition holds, or while a deciding
// field is not chosen yet; the server drops the values of hidden ones (formschema.py).
(function () {
  const form = document.getElementById("task-form");
  if (!form) return;
  const rules = [...form.querySelectorAll("[data-show-when]")];
  if (!rules.length) return;
  function valueOf(name) {
    const inputs = form.querySelectorAll(`[name="${CSS.escape(name)}"]`);
    for (const input of inputs) {
      if (input.type === "radio" || input.type === "checkbox") {
        if (input.checked) return input.value;
      } else if (input.value !== "") {
        return input.value;
      }
    }
    return null;
  }
  function applies(whens) {
    return whens.some((when) =>
      Object.entries(when).some(([name]) => valueOf(name) === null) ||
      Object.entries(when).every(([name, values]) => values.map(String).includes(valueOf(name))));
  }
  function refresh() {
    for (const field of rules) field.hidden = !applies(JSON.parse(field.dataset.showWhen));
  }
  form.addEventListener("change", refresh);
  refresh();
})();
