/* The board page: the columns editor (add, rename, reorder, remove, WIP limits),
   saved whole with PUT /api/boards/{id}/columns. */
(() => {
  "use strict";

  const AK = window.AK;
  const B = AK?.board;
  if (!B) return;
  const { boardId, $, $$, doResync, scheduleCounts } = B;

  const columnsDialog = document.getElementById("columns-dialog");
  let columnsSnapshot = "";

  function openColumnsEditor() {
    columnsSnapshot = $("[data-column-rows]", columnsDialog).innerHTML;
    $("[data-columns-error]", columnsDialog).textContent = "";
    columnsDialog.showModal();
  }

  function closeColumnsEditor(restore) {
    if (restore) $("[data-column-rows]", columnsDialog).innerHTML = columnsSnapshot;
    columnsDialog.close();
  }

  columnsDialog.addEventListener("click", (event) => {
    const target = event.target;
    const row = target.closest(".column-row");
    if (target.closest("[data-close]")) {
      closeColumnsEditor(true);
    } else if (target.closest("[data-row-up]") && row.previousElementSibling) {
      row.previousElementSibling.before(row);
      target.focus();
    } else if (target.closest("[data-row-down]") && row.nextElementSibling) {
      row.nextElementSibling.after(row);
      target.focus();
    } else if (target.closest("[data-row-remove]")) {
      row.remove();
    } else if (target.closest("[data-add-column]")) {
      const rows = $("[data-column-rows]", columnsDialog);
      const fresh = document.createElement("li");
      fresh.className = "column-row";
      fresh.innerHTML =
        '<input name="name" required maxlength="100" aria-label="Column name" placeholder="New column">' +
        '<input name="wip_limit" type="number" min="1" max="10000" placeholder="No limit" aria-label="WIP limit">' +
        '<span class="muted small row-count">new</span>' +
        '<span class="row-tools"><button type="button" class="icon-btn" data-row-up aria-label="Move left">↑</button>' +
        '<button type="button" class="icon-btn" data-row-down aria-label="Move right">↓</button>' +
        '<button type="button" class="icon-btn danger-text" data-row-remove aria-label="Remove">✕</button></span>';
      rows.append(fresh);
      $("input", fresh).focus();
    }
  });

  columnsDialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    closeColumnsEditor(true);
  });

  columnsDialog.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("[data-columns-error]", columnsDialog);
    const specs = $$(".column-row", columnsDialog).map((row) => {
      const wip = $('input[name="wip_limit"]', row).value.trim();
      const spec = { name: $('input[name="name"]', row).value.trim(), wip_limit: wip ? Number(wip) : null };
      if (row.dataset.id) spec.id = Number(row.dataset.id);
      return spec;
    });
    try {
      await AK.api("PUT", `/api/boards/${boardId}/columns`, { columns: specs });
    } catch (failure) {
      error.textContent = failure.message;
      return;
    }
    columnsDialog.close();
    AK.toast("Columns saved.");
    await doResync();
    scheduleCounts();
  });

  B.openColumnsEditor = openColumnsEditor;
})();
