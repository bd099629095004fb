/* The board page: the columns editor (add, rename, reorder, remove, WIP limits, review
   gates), saved whole with PUT /api/boards/{id}/columns; who reviews (the board's
   review_by) with PATCH /api/boards/{id}. */
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
    if (restore) {
      $("[data-column-rows]", columnsDialog).innerHTML = columnsSnapshot;
      const reviewBy = $("[data-review-by]", columnsDialog);
      reviewBy.value = reviewBy.dataset.initial;
    }
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
        '<label class="check small row-review" title="Cards leave this column forward only by an approval">' +
        '<input type="checkbox" name="requires_review" aria-label="Requires review"> Review</label>' +
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
      const spec = {
        name: $('input[name="name"]', row).value.trim(),
        wip_limit: wip ? Number(wip) : null,
        requires_review: $('input[name="requires_review"]', row).checked,
      };
      if (row.dataset.id) spec.id = Number(row.dataset.id);
      return spec;
    });
    const reviewBy = $("[data-review-by]", columnsDialog);
    try {
      await AK.api("PUT", `/api/boards/${boardId}/columns`, { columns: specs });
      if (reviewBy.value !== reviewBy.dataset.initial) {
        await AK.api("PATCH", `/api/boards/${boardId}`, { review_by: reviewBy.value });
        reviewBy.dataset.initial = reviewBy.value;
      }
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
