// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", function () {
  // "select all" for bulk review decisions
  document.querySelectorAll("input[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll("input[name='" + box.dataset.selectAll + "']").forEach(function (item) {
        item.checked = box.checked;
      });
    });
  });
  // a destructive form asks once
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
});
