/* The shops feature on the officer desk (issue 21): shop applications (business details only; the
   bank account is opened only by the settlement export), approved with a reason (a new merchant's
   on-chain registration follows); each settlement with the shop's registered name, marked paid with
   the transfer's date and reference; the settlement export as CSV (UTF-8 with BOM, or Shift_JIS).
   Shown under the desk whenever the desk is. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  let tab = "pending";
  T.addTexts({
    ja: { os_title: "お店の申請と換金", os_tab_pending: "確認待ち", os_tab_approved: "登録済み", os_tab_rejected: "却下",
      os_settlements: "換金（市からの振込）", os_export_utf8: "振込待ちをCSVで（UTF-8）", os_export_sjis: "振込待ちをCSVで（Shift_JIS）",
      os_reason: "確認した内容・理由", os_approve: "承認", os_reject: "却下", os_now: "現在の登録名", os_limit: "QR上限",
      os_cards: "カード可", os_transfer_date: "振込日", os_transfer_ref: "振込の参照番号", os_mark_paid: "振込済みにする",
      os_state_sending: "送信中", os_state_requested: "振込待ち", os_state_paid: "振込済み", os_state_failed: "失敗",
      os_decided: "{name}：{what}", os_approved: "承認しました", os_rejected: "却下しました", os_marked: "振込済みにしました",
      os_downloaded: "CSVを作成しました（口座の閲覧は記録されます）" },
    en: { os_title: "Shop applications and settlements", os_tab_pending: "Waiting", os_tab_approved: "Registered", os_tab_rejected: "Rejected",
      os_settlements: "Settlements (the city's transfers)", os_export_utf8: "Export waiting transfers (CSV, UTF-8)",
      os_export_sjis: "Export waiting transfers (CSV, Shift_JIS)", os_reason: "What was checked / reason", os_approve: "Approve",
      os_reject: "Reject", os_now: "registered name now", os_limit: "QR limit", os_cards: "cards", os_transfer_date: "Transfer date",
      os_transfer_ref: "Transfer reference", os_mark_paid: "Mark paid", os_state_sending: "sending", os_state_requested: "to transfer",
      os_state_paid: "paid", os_state_failed: "failed", os_decided: "{name}: {what}", os_approved: "approved", os_rejected: "rejected",
      os_marked: "marked paid", os_downloaded: "CSV made (opening the bank accounts is recorded)" },
  });

  function notice(text) {
    $("shops-notice").textContent = text;
    $("shops-notice").hidden = false;
  }

  function applicationRow(a) {
    const li = T.el("li", null, { "data-id": a.id, "data-status": a.status });
    li.append(T.el("strong", a.requested_name));
    const details = `${a.code} · ${a.category} · ${a.district} · ${a.hours} · ${T.t("os_limit")} ${T.formatPoints(a.static_limit)}`
      + (a.takes_cards ? ` · ${T.t("os_cards")}` : "") + (a.name && a.name !== a.requested_name ? ` · ${T.t("os_now")}: ${a.name}` : "");
    li.append(T.el("small", " " + details));
    if (a.status !== "pending") {
      if (a.reason) li.append(T.el("small", ` — ${a.reason}`));
      return li;
    }
    const form = T.el("form", null, { class: "shop-decision" });
    const reason = T.el("input", null, { name: "reason", required: "", maxlength: "200", "aria-label": T.t("os_reason"), placeholder: T.t("os_reason") });
    const approve = T.el("button", T.t("os_approve"), { type: "submit", value: "approve", class: "primary" });
    const reject = T.el("button", T.t("os_reject"), { type: "submit", value: "reject" });
    form.append(reason, approve, reject);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const verb = event.submitter && event.submitter.value === "reject" ? "reject" : "approve";
      try {
        await T.call("POST", `/v1/officer/shops/${a.id}/${verb}`, { reason: reason.value.trim() }, crypto.randomUUID());
        notice(T.t("os_decided").replace("{name}", a.requested_name).replace("{what}", T.t(verb === "approve" ? "os_approved" : "os_rejected")));
        await load();
      } catch (e) {
        T.showError("shops-error", e);
      }
    });
    li.append(form);
    return li;
  }

  function settlementRow(s) {
    const when = T.jstDate(s.requested_at);
    const li = T.el("li", null, { "data-id": s.id, "data-status": s.status });
    li.append(T.el("strong", s.shop_name), T.el("span", ` ${T.formatPoints(s.amount)} · ${when} · ${T.t("os_state_" + s.status)}`));
    if (s.status === "paid") li.append(T.el("small", ` ${T.calendarDate(s.transfer_date)} ${s.transfer_reference}`));
    if (s.status !== "requested") return li;
    const form = T.el("form", null, { class: "shop-paid" });
    const date = T.el("input", null, { name: "transfer_date", type: "date", required: "", "aria-label": T.t("os_transfer_date") });
    date.value = new Date().toLocaleDateString("en-CA", { timeZone: "Asia/Tokyo" });
    const ref = T.el("input", null, { name: "transfer_reference", required: "", maxlength: "40", "aria-label": T.t("os_transfer_ref"), placeholder: T.t("os_transfer_ref") });
    form.append(date, ref, T.el("button", T.t("os_mark_paid"), { type: "submit" }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await T.call("POST", `/v1/officer/settlements/${s.id}/paid`, { transfer_date: date.value, transfer_reference: ref.value.trim() });
        notice(`${s.shop_name}: ${T.t("os_marked")}`);
        await load();
      } catch (e) {
        T.showError("shops-error", e);
      }
    });
    li.append(form);
    return li;
  }

  async function load() {
    try {
      const [applications, settlements] = await Promise.all([
        T.call("GET", `/v1/officer/shops?status=${tab}`), T.call("GET", "/v1/officer/settlements")]);
      $("shops-applications").replaceChildren(...applications.map(applicationRow));
      $("shops-applications-empty").hidden = applications.length > 0;
      $("shops-settlements").replaceChildren(...settlements.map(settlementRow));
      $("shops-settlements-empty").hidden = settlements.length > 0;
    } catch (e) {
      T.showError("shops-error", e);
    }
  }

  async function download(encoding) {
    try {
      const response = await fetch(`/v1/officer/settlements.csv?status=requested&encoding=${encoding}`,
        { headers: { Authorization: `Bearer ${T.tokens.access}` } });
      if (!response.ok) throw new T.ApiFailure((await response.json()).error || { code: "HTTP_" + response.status }, response.status);
      const link = T.el("a", null, { href: URL.createObjectURL(await response.blob()), download: `settlements-${encoding}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      notice(T.t("os_downloaded"));
    } catch (e) {
      T.showError("shops-error", e);
    }
  }

  document.querySelectorAll("#shops-tabs button").forEach((b) => b.addEventListener("click", () => {
    tab = b.dataset.status;
    document.querySelectorAll("#shops-tabs button").forEach((o) => {
      o.setAttribute("aria-selected", String(o === b));
      o.classList.toggle("primary", o === b); // the chosen tab shows, as the desk's account tabs do
    });
    load();
  }));
  $("shops-export-utf8").addEventListener("click", () => download("utf-8"));
  $("shops-export-sjis").addEventListener("click", () => download("shift_jis"));
  // the part follows the desk: shown (and read afresh) when the desk is, hidden at the log-in
  const desk = $("desk");
  new MutationObserver(() => {
    $("shops-desk").hidden = desk.hidden;
    if (!desk.hidden) load();
  }).observe(desk, { attributes: true, attributeFilter: ["hidden"] });
  document.addEventListener("takasago:language", () => { if (!desk.hidden) load(); });
})();
