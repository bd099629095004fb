/* The board page: the card detail dialog. Edits the card through the REST API
   (with the version it read), comments, deletes; shows the server's rendered detail. */
(() => {
  "use strict";

  const AK = window.AK;
  const B = AK?.board;
  if (!B) return;
  const { boardId, me, state, $, $$, cardById, removeCard, scheduleCounts, updateShown, refreshCards } = B;

  const detailDialog = document.getElementById("detail-dialog");
  const detailBody = $("[data-detail-body]", detailDialog);

  function setCardParam(id) {
    const url = new URL(window.location.href);
    if (id) url.searchParams.set("card", id);
    else url.searchParams.delete("card");
    history.replaceState(null, "", url);
  }

  async function openDetail(id) {
    state.openTicket = id;
    setCardParam(id);
    if (!detailDialog.open) {
      detailBody.innerHTML = '<p class="muted" style="padding:16px">Loading…</p>';
      detailDialog.showModal();
    }
    await loadDetail(id);
  }

  async function loadDetail(id, { sectionsOnly = false } = {}) {
    let result;
    try {
      result = await AK.fragment(`/boards/${boardId}/tickets/${id}/`);
    } catch (error) {
      if (error.status === 404) {
        showNotice("This card no longer exists.");
        if (!sectionsOnly && !$("[data-detail]", detailBody)) detailBody.innerHTML = '<p class="muted" style="padding:16px">This card no longer exists.</p>';
      } else {
        AK.toast(error.message, "error");
      }
      return;
    }
    if (state.openTicket !== id) return;
    const template = document.createElement("template");
    template.innerHTML = result.html;
    const fresh = $("[data-detail]", template.content);
    const current = $("[data-detail]", detailBody);
    if (sectionsOnly && current) {
      for (const section of $$("[data-section]", fresh)) {
        const old = $(`[data-section="${section.dataset.section}"]`, current);
        if (section.dataset.section === "comments" && old && commentsBusy(old)) continue;
        old?.replaceWith(section);
      }
      AK.formatTimes(current);
      return;
    }
    const scroll = detailBody.scrollTop;
    detailBody.replaceChildren(fresh);
    detailBody.scrollTop = scroll;
    AK.formatTimes(fresh);
    growTitle();
  }

  function detailForm() {
    return $("[data-ticket-form]", detailBody);
  }

  function showNotice(html, actions = true) {
    const notice = $("[data-detail-notice]", detailBody);
    if (!notice) return;
    notice.hidden = false;
    notice.textContent = html;
    if (actions) {
      const reload = document.createElement("button");
      reload.type = "button";
      reload.className = "btn small";
      reload.dataset.reloadDetail = "";
      reload.textContent = "Show the latest";
      notice.append(" ", reload);
    }
  }

  function fieldChanged(field) {
    if (field instanceof HTMLSelectElement) {
      const initial = [...field.options].find((option) => option.defaultSelected) || field.options[0];
      return field.value !== (initial?.value ?? "");
    }
    return field.value !== field.defaultValue;
  }

  function formDirty() {
    const form = detailForm();
    return Boolean(form && [...form.elements].some((field) => field.name && fieldChanged(field)));
  }

  function commentsBusy(section) {
    return $$("[data-comment-editor]", section).length > 0 || Boolean($('[data-comment-form] textarea', section)?.value);
  }

  function growTitle() {
    const title = $(".title-input", detailBody);
    if (!title) return;
    title.style.height = "auto";
    title.style.height = `${title.scrollHeight}px`;
  }

  function parseIds(text) {
    return [...new Set((text.match(/\d+/g) || []).map(Number))];
  }

  async function saveDetail() {
    const form = detailForm();
    const detail = $("[data-detail]", detailBody);
    const id = Number(detail.dataset.ticketId);
    const status = $("[data-form-status]", form);
    const changes = {};
    for (const name of ["title", "description", "acceptance_criteria", "priority", "assignee"]) {
      const field = form.elements[name];
      if (fieldChanged(field)) changes[name] = name === "assignee" ? field.value || null : field.value;
    }
    if (fieldChanged(form.elements.labels)) {
      changes.labels = form.elements.labels.value.split(",").map((name) => name.trim()).filter(Boolean);
    }
    const blockersChanged = fieldChanged(form.elements.blocked_by);
    if (!Object.keys(changes).length && !blockersChanged) {
      status.className = "form-status";
      status.textContent = "Nothing to save.";
      return;
    }
    const save = $("[data-save]", form);
    if (!save) return; // a viewer's read-only card
    save.disabled = true;
    status.className = "form-status";
    status.textContent = "Saving…";
    try {
      if (Object.keys(changes).length) {
        await AK.api("PUT", `/api/tickets/${id}`, { ...changes, version: Number(detail.dataset.version) });
      }
      if (blockersChanged) {
        await AK.api("PUT", `/api/tickets/${id}/dependencies`, { blocked_by: parseIds(form.elements.blocked_by.value) });
      }
      await loadDetail(id);
      const fresh = $("[data-form-status]", detailBody);
      if (fresh) {
        fresh.className = "form-status ok";
        fresh.textContent = "Saved.";
      }
      refreshCards([id]);
    } catch (error) {
      status.className = "form-status error";
      status.textContent = error.message;
      if (error.status === 409) showNotice("Someone else changed this card meanwhile. Your edits are still here; show the latest to start again from it.");
    } finally {
      save.disabled = false;
    }
  }

  /** Approve the open card, or request changes with `comment`: POST /review, then show
      the card where the review put it. */
  async function review(decision, comment) {
    const detail = $("[data-detail]", detailBody);
    const section = $("[data-review]", detailBody);
    if (!detail || !section) return;
    const id = Number(detail.dataset.ticketId);
    const body = { decision, version: Number(detail.dataset.version) };
    if (comment) body.comment = comment;
    if (section.hasAttribute("data-review-override")) body.override = true;
    const buttons = $$("button", section);
    buttons.forEach((button) => (button.disabled = true));
    let ticket;
    try {
      ticket = await AK.api("POST", `/api/tickets/${id}/review`, body);
    } catch (error) {
      AK.toast(error.message, "error", 7000);
      buttons.forEach((button) => (button.disabled = false));
      return;
    }
    AK.toast(
      decision === "approve"
        ? `Approved: #${id} moved on to ${ticket.current_column}.`
        : `Changes requested: #${id} went back to ${ticket.current_column}.`,
    );
    await loadDetail(id);
    refreshCards([id]);
    scheduleCounts();
  }

  async function deleteTicket() {
    const detail = $("[data-detail]", detailBody);
    const id = Number(detail.dataset.ticketId);
    const title = $(".title-input", detail).defaultValue;
    if (!(await AK.confirmDialog(`Delete the card “${title}”? Its comments go with it.`))) return;
    try {
      await AK.api("DELETE", `/api/tickets/${id}`, undefined, { "If-Match": `"${detail.dataset.version}"` });
    } catch (error) {
      AK.toast(error.message, "error", 7000);
      return;
    }
    state.openTicket = null;
    closeDetail();
    const card = cardById(id);
    if (card) removeCard(card);
    scheduleCounts();
    updateShown();
    AK.toast(`Card #${id} deleted.`);
  }

  function editComment(comment) {
    if ($("[data-comment-editor]", comment)) return;
    const raw = $("[data-comment-raw]", comment).value;
    const editor = document.createElement("form");
    editor.className = "comment-form";
    editor.dataset.commentEditor = "";
    editor.innerHTML =
      '<textarea rows="3" maxlength="20000" aria-label="Edit comment" required></textarea>' +
      '<div class="comment-form-actions"><button type="button" class="btn ghost small" data-cancel-comment>Cancel</button>' +
      '<button type="submit" class="btn primary small">Save</button></div>';
    $("textarea", editor).value = raw;
    $("[data-comment-body]", comment).hidden = true;
    comment.append(editor);
    $("textarea", editor).focus();
  }

  async function refreshComments() {
    if (state.openTicket) await loadDetail(state.openTicket, { sectionsOnly: true });
  }

  detailDialog.addEventListener("click", async (event) => {
    const target = event.target;
    if (target === detailDialog) {
      // A click on the backdrop closes, as in most boards.
      requestClose();
      return;
    }
    if (target.closest("[data-close]")) {
      requestClose();
    } else if (target.closest("[data-edit-text]")) {
      const section = target.closest("[data-text-field]");
      $("[data-text-view]", section).hidden = true;
      target.closest("[data-edit-text]").hidden = true;
      const input = $("[data-text-input]", section);
      input.hidden = false;
      input.focus();
    } else if (target.closest("[data-delete-ticket]")) {
      deleteTicket();
    } else if (target.closest("[data-review-approve]")) {
      review("approve");
    } else if (target.closest("[data-review-changes]")) {
      const form = $("[data-review-form]", detailBody);
      form.hidden = false;
      $("textarea", form).focus();
    } else if (target.closest("[data-review-cancel]")) {
      const form = $("[data-review-form]", detailBody);
      $("textarea", form).value = "";
      form.hidden = true;
    } else if (target.closest("[data-reload-detail]")) {
      loadDetail(state.openTicket);
    } else if (target.closest("[data-open-card-id]")) {
      event.preventDefault();
      if (!formDirty() || (await AK.confirmDialog("Leave this card without saving?", "Leave"))) {
        openDetail(Number(target.closest("[data-open-card-id]").dataset.openCardId));
      }
    } else if (target.closest("[data-edit-comment]")) {
      editComment(target.closest("[data-comment-id]"));
    } else if (target.closest("[data-cancel-comment]")) {
      const comment = target.closest("[data-comment-id]");
      $("[data-comment-editor]", comment).remove();
      $("[data-comment-body]", comment).hidden = false;
    } else if (target.closest("[data-delete-comment]")) {
      const comment = target.closest("[data-comment-id]");
      if (!(await AK.confirmDialog("Delete this comment?"))) return;
      try {
        await AK.api("DELETE", `/api/comments/${comment.dataset.commentId}`);
        await refreshComments();
      } catch (error) {
        AK.toast(error.message, "error");
      }
    }
  });

  detailDialog.addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    if (form.matches("[data-ticket-form]")) {
      saveDetail();
      return;
    }
    if (form.matches("[data-review-form]")) {
      const comment = $("textarea", form).value;
      if (comment.trim()) review("request_changes", comment);
      return;
    }
    const textarea = $("textarea", form);
    const text = textarea.value;
    if (!text.trim()) return;
    const button = $("button[type=submit]", form);
    button.disabled = true;
    try {
      if (form.matches("[data-comment-form]")) {
        await AK.api("POST", "/api/comments/", { ticket_id: state.openTicket, text });
        textarea.value = "";
      } else if (form.matches("[data-comment-editor]")) {
        const comment = form.closest("[data-comment-id]");
        await AK.api("PUT", `/api/comments/${comment.dataset.commentId}`, { text });
        form.remove();
      }
      await refreshComments();
    } catch (error) {
      AK.toast(error.message, "error");
    } finally {
      button.disabled = false;
    }
  });

  detailDialog.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target.matches(".title-input") && event.key === "Enter") {
      event.preventDefault();
      detailForm().requestSubmit();
    } else if (target.matches("textarea") && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      target.form?.requestSubmit();
    }
  });

  detailDialog.addEventListener("input", (event) => {
    if (event.target.matches(".title-input")) growTitle();
  });

  async function requestClose() {
    if (formDirty() && !(await AK.confirmDialog("Discard your unsaved changes to this card?", "Discard"))) return;
    closeDetail();
  }

  /** Closes the dialog and forgets the card now, not when the queued "close" event runs. */
  function closeDetail() {
    detailDialog.close();
    forgetOpenCard();
  }

  function forgetOpenCard() {
    const id = state.openTicket;
    state.openTicket = null;
    setCardParam(null);
    if (id) cardById(id)?.focus({ preventScroll: true });
  }

  detailDialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    requestClose();
  });

  detailDialog.addEventListener("close", forgetOpenCard);

  /** A live change to the open card: refresh it unless the person is editing it. */
  function detailChanged(message) {
    const editing = formDirty() || $$("[data-text-input]:not([hidden])", detailBody).length;
    // A progress report changes only the claim line: no reason to interrupt an edit.
    if (message.event === "ticket_progress" && editing) return;
    if (editing) {
      if (message.actor !== me) showNotice(`${message.actor || "Someone"} changed this card while you were editing.`);
      loadDetail(state.openTicket, { sectionsOnly: true });
    } else {
      loadDetail(state.openTicket);
    }
  }

  B.openDetail = openDetail;
  B.detail = { changed: detailChanged, notice: showNotice, refreshComments };
})();
