/* Programmes on the officer desk (issue 21): claims waiting for a decision, each photo opened only on
   request (every opening recorded and listed under the claim), approved or rejected with a reason the
   resident sees; events with their QR shown at the venue, a new signed code every minute; and each
   programme's description and whether a claim needs a photo. Organisers (coordinators) use the same
   event routes from their own screens. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  const el = T.el;
  let programmes = new Map();

  T.addTexts({
    ja: {
      pgo_title: "プログラム・イベント・申請", pgo_open: "プログラム・イベント・申請", pgo_back: "デスクに戻る",
      pgo_claims: "審査待ちの申請", pgo_claims_hint: "写真は「写真を見る」を押したときだけ表示され、閲覧は記録されます。却下には理由が必要で、申請者に表示されます。",
      pgo_events: "イベントとQR受付", pgo_programme: "プログラム", pgo_event_title: "イベント名", pgo_points: "1人あたりのポイント",
      pgo_starts: "開始（日本時間）", pgo_ends: "終了（日本時間）", pgo_create: "イベントを作成", pgo_show_qr: "QRを表示", pgo_qr_stop: "表示をやめる",
      pgo_qr_expiry: "このコードは {time} まで有効です（1分ごとに新しいコードに変わります）。", pgo_checkins: "受付",
      pgo_rules: "プログラムの説明と証拠のルール", pgo_category: "種類", pgo_evidence: "申請に必要なもの", pgo_ev_note: "メモ",
      pgo_ev_photo: "メモと写真", pgo_desc_ja: "説明（日本語）", pgo_desc_en: "説明（英語）", pgo_save: "保存",
      pgo_photo: "写真を見る", pgo_no_photo: "写真なし", pgo_viewed: "写真の閲覧", pgo_reason: "却下の理由",
      pgo_approve: "承認", pgo_reject: "却下", pgo_saved: "保存しました", pgo_created: "イベントを作成しました", pgo_member: "会員",
      pg_cat_eco: "エコ活動", pg_cat_volunteer: "ボランティア", pg_cat_watch: "みまもり", pg_cat_help: "お手伝い", pg_cat_other: "その他",
    },
    en: {
      pgo_title: "Programmes, events and claims", pgo_open: "Programmes, events and claims", pgo_back: "Back to the desk",
      pgo_claims: "Claims waiting for a decision", pgo_claims_hint: "A photo is shown only when you press \"See the photo\", and every showing is recorded. A rejection needs a reason, which the resident sees.",
      pgo_events: "Events and QR check-in", pgo_programme: "Programme", pgo_event_title: "Event name", pgo_points: "Points per person",
      pgo_starts: "Starts (Japan time)", pgo_ends: "Ends (Japan time)", pgo_create: "Create the event", pgo_show_qr: "Show the QR", pgo_qr_stop: "Stop showing",
      pgo_qr_expiry: "This code is valid until {time} (a new code every minute).", pgo_checkins: "checked in",
      pgo_rules: "Programme description and evidence rule", pgo_category: "Kind", pgo_evidence: "A claim needs", pgo_ev_note: "a note",
      pgo_ev_photo: "a note and a photo", pgo_desc_ja: "Description (Japanese)", pgo_desc_en: "Description (English)", pgo_save: "Save",
      pgo_photo: "See the photo", pgo_no_photo: "no photo", pgo_viewed: "photo seen by", pgo_reason: "Reason for rejecting",
      pgo_approve: "Approve", pgo_reject: "Reject", pgo_saved: "Saved", pgo_created: "Event created", pgo_member: "member",
      pg_cat_eco: "Eco action", pg_cat_volunteer: "Volunteering", pg_cat_watch: "Watch-over", pg_cat_help: "Helping", pg_cat_other: "Other",
    },
  });

  const when = T.jstTime; // common.js: 2026-12-03 14:05 JST / 2026/12/03 14:05
  // an event's check-in QR at the venue (common.js: a new signed code every minute)
  const qr = T.eventQr({ box: "pgo-qr-box", title: "pgo-qr-title", img: "pgo-qr", expiry: "pgo-qr-expiry" }, "pgo_qr_expiry", "pgo-error");
  const stopQr = qr.stop;

  async function open() {
    stopQr();
    T.show("programmes-desk");
    $("pgo-notice").hidden = true;
    try {
      const list = await T.call("GET", "/v1/organiser/programmes");
      programmes = new Map(list.map((p) => [p.id, p]));
      for (const select of document.querySelectorAll("#programmes-desk select[name=programme_id]")) {
        const claimableOnly = select.closest("form").id === "pgo-event-form";
        const previous = select.value;
        select.replaceChildren(...list.filter((p) => !claimableOnly || p.claimable)
          .map((p) => el("option", `#${p.id} ${p.name}`, { value: String(p.id) })));
        if (previous) select.value = previous;
      }
      T.defaultEventTimes($("pgo-event-form"));
      await Promise.all([claims(), events()]);
    } catch (e) {
      T.showError("pgo-error", e);
    }
  }

  // ---- claims ----------------------------------------------------------------------------------
  async function claims() {
    const rows = await T.call("GET", "/v1/officer/programme-claims?status=pending");
    $("pgo-claims").replaceChildren(...rows.map(claimRow));
    $("pgo-claims-empty").hidden = rows.length > 0;
  }

  function claimRow(c) {
    const li = el("li", null, { "data-claim": c.id });
    const p = programmes.get(c.programme_id);
    li.append(el("span", [p ? p.name : `#${c.programme_id}`, `${T.t("pgo_member")} ${c.resident || ""}`, `× ${c.units}`].join(" ／ ")));
    li.append(el("small", c.has_photo ? "" : T.t("pgo_no_photo")));
    li.append(el("small", `${when(c.created_at)} ／ ${c.evidence}`));
    const views = el("small", c.photo_views.length ? `${T.t("pgo_viewed")}: ${c.photo_views.map((v) => `${v.officer} ${when(v.at)}`).join(", ")}` : "", { class: "pgo-views" });
    li.append(views);
    const image = el("img", null, { alt: "", class: "pgo-photo", style: "grid-column: 1 / -1; max-width: 100%; max-height: 20rem" });
    image.hidden = true;
    const actions = el("div", null, { class: "decide", style: "grid-column: 1 / -1; flex-wrap: wrap" });
    if (c.has_photo) {
      const see = el("button", T.t("pgo_photo"), { type: "button", class: "pgo-see" });
      see.addEventListener("click", async () => {
        try {
          image.src = await T.imageUrl(`/v1/officer/programme-claims/${c.id}/photo`);
          image.hidden = false;
          see.disabled = true;
        } catch (e) { T.showError("pgo-error", e); }
      });
      actions.append(see);
    }
    const approve = el("button", T.t("pgo_approve"), { type: "button", class: "primary pgo-approve" });
    approve.addEventListener("click", () => decide(c, true, "", approve));
    const reason = el("input", null, { name: "reason", maxlength: "200", placeholder: T.t("pgo_reason"), "aria-label": T.t("pgo_reason") });
    const reject = el("button", T.t("pgo_reject"), { type: "button", class: "danger pgo-reject" });
    reject.addEventListener("click", () => decide(c, false, reason.value, reject));
    actions.append(approve, reason, reject);
    li.append(image, actions);
    return li;
  }

  async function decide(c, approve, reason, button) {
    button.disabled = true;
    try {
      await T.call("POST", `/v1/officer/programme-claims/${c.id}/decision`, { approve, reason: reason.trim() }, crypto.randomUUID());
      await claims();
    } catch (e) {
      T.showError("pgo-error", e);
      button.disabled = false;
    }
  }

  // ---- events and their QR -----------------------------------------------------------------------
  async function events() {
    const rows = await T.call("GET", "/v1/organiser/events?limit=20");
    $("pgo-events").replaceChildren(...rows.map((e) => {
      const li = el("li", null, { "data-event": e.id });
      li.append(el("span", `${e.title} ／ ${T.formatPoints(e.points)}`), el("strong", `${T.t("pgo_checkins")} ${e.checkins}`));
      li.append(el("small", `${when(e.starts_at)} – ${when(e.ends_at)}`));
      const show = el("button", T.t("pgo_show_qr"), { type: "button", class: "primary pgo-show-qr", style: "grid-column: 1 / -1" });
      show.addEventListener("click", () => showQr(e));
      li.append(show);
      return li;
    }));
  }

  const showQr = (event) => qr.show(event, event.title);

  $("pgo-event-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await T.call("POST", "/v1/organiser/events", T.eventBody(form));
      $("pgo-notice").textContent = T.t("pgo_created");
      $("pgo-notice").hidden = false;
      await events();
    } catch (e) {
      T.showError("pgo-error", e);
    }
  });

  $("pgo-rules-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await T.call("PUT", `/v1/officer/programmes/${form.get("programme_id")}/rules`, {
        category: form.get("category"), evidence: form.get("evidence"),
        description_ja: String(form.get("description_ja")).trim(), description_en: String(form.get("description_en")).trim(),
      });
      $("pgo-notice").textContent = T.t("pgo_saved");
      $("pgo-notice").hidden = false;
    } catch (e) {
      T.showError("pgo-error", e);
    }
  });

  $("pgo-qr-stop").addEventListener("click", stopQr);
  $("pgo-back").addEventListener("click", () => { stopQr(); $("refresh").click(); });
  document.addEventListener("takasago:language", () => { if (!$("programmes-desk").hidden) open(); });

  /* the desk (officer.js) opens this screen from its own claims list */
  T.officerProgrammes = { open };
})();
