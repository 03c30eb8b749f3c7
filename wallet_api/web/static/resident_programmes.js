/* Programmes in the residents' app (issue 21): what is open to me, with the rules in plain words and my
   points against each cap; a claim with a note and a photo (made smaller here, sent as the request's whole
   body, sealed by the wallet and shown only to the officer deciding it); my claims' progress (submitted →
   approved → points arrived, or not approved and why); and check-in at an event by scanning the organiser's
   QR with the camera (a code changes every minute: a forwarded photo of it no longer works). */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  const el = T.el;
  const MAX_PHOTO = 60 * 1024; // under the API's 64 KiB body limit
  let scanner = null;
  let chosen = null; // the programme being claimed
  let photo = null; // {blob} of the photo chosen for it, made smaller
  let programmes = new Map();

  T.addTexts({
    ja: {
      programmes: "参加できるプログラム", pg_title: "参加できるプログラム", pg_checkin: "イベントの受付（QRを読み取る）",
      pg_none: "いま参加できるプログラムはありません。", pg_my_claims: "わたしの申請と参加", pg_no_claims: "まだありません。",
      pg_claim_title: "申請する", pg_units: "回数・数量", pg_note: "活動のメモ（日時・場所・内容）", pg_photo: "写真を添える",
      pg_photo_required: "写真を添える（必須）", pg_send: "申請する", pg_claim: "申請する", pg_auto: "自動で付与",
      pg_closed: "受付していません", pg_progress: "今期間の獲得", pg_left: "あと", pg_no_cap: "上限なし",
      pg_scan_hint: "会場に表示されたQRコードをカメラで読み取ってください。1人1回です。",
      pg_scan_again: "もう一度読み取る", pg_checked_in: "受付しました：{title}（{points}）",
      pg_photo_ready: "写真を添えました（{size} KB）", pg_photo_bad: "この写真は使えません。別の写真を選んでください。",
      pg_sent: "申請を送りました。市の確認をお待ちください。",
      pg_stage_submitted: "申請中（市の確認待ち）", pg_stage_approved: "承認済み（ポイント付与中）", pg_stage_paid: "ポイントが届きました",
      pg_stage_rejected: "承認されませんでした", pg_stage_failed: "付与できませんでした（市にお問い合わせください）",
      pg_reason: "理由", pg_with_photo: "写真あり", pg_event: "イベント",
      pg_cat_eco: "エコ活動", pg_cat_volunteer: "ボランティア", pg_cat_watch: "みまもり", pg_cat_help: "お手伝い", pg_cat_other: "その他",
      pg_camera: "カメラを使えません。", pg_events: "これからのイベント", pg_no_events: "予定されているイベントはありません。",
      pg_programmes: "プログラム", pg_attended: "受付済み",
    },
    en: {
      programmes: "Programmes", pg_title: "Programmes open to me", pg_checkin: "Check in at an event (scan the QR)",
      pg_none: "No programme is open now.", pg_my_claims: "My claims and check-ins", pg_no_claims: "None yet.",
      pg_claim_title: "Claim", pg_units: "Times / amount", pg_note: "Note (when, where, what you did)", pg_photo: "Add a photo",
      pg_photo_required: "Add a photo (required)", pg_send: "Send the claim", pg_claim: "Claim", pg_auto: "Given automatically",
      pg_closed: "Not open", pg_progress: "Earned this period", pg_left: "left", pg_no_cap: "no cap",
      pg_scan_hint: "Scan the QR code shown at the venue with the camera. Once per person.",
      pg_scan_again: "Scan again", pg_checked_in: "Checked in: {title} ({points})",
      pg_photo_ready: "Photo added ({size} KB)", pg_photo_bad: "This photo cannot be used. Please choose another.",
      pg_sent: "Claim sent. The city will check it.",
      pg_stage_submitted: "Submitted (waiting for the city)", pg_stage_approved: "Approved (points on their way)",
      pg_stage_paid: "Points arrived", pg_stage_rejected: "Not approved", pg_stage_failed: "Could not be paid (please ask the city)",
      pg_reason: "Reason", pg_with_photo: "with photo", pg_event: "Event",
      pg_cat_eco: "Eco action", pg_cat_volunteer: "Volunteering", pg_cat_watch: "Watch-over", pg_cat_help: "Helping", pg_cat_other: "Other",
      pg_camera: "The camera is not available.", pg_events: "Coming events", pg_no_events: "No event is planned.",
      pg_programmes: "Programmes", pg_attended: "checked in",
    },
  });

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, (_, k) => String(values[k] ?? ""));
  }

  function stopScanner() {
    if (scanner) scanner.stop();
    scanner = null;
  }

  // ---- the list ------------------------------------------------------------------------------
  async function overview() {
    stopScanner();
    T.show("programmes");
    try {
      const [list, claims, events] = await Promise.all([
        T.call("GET", "/v1/programmes"), T.call("GET", "/v1/programme-claims"), T.call("GET", "/v1/events"),
      ]);
      $("pg-events").replaceChildren(...events.map(eventItem));
      $("pg-events-empty").hidden = events.length > 0;
      programmes = new Map(list.map((p) => [p.id, p]));
      $("pg-list").replaceChildren(...list.map(programmeItem));
      $("pg-empty").hidden = list.some((p) => p.open);
      $("pg-claims").replaceChildren(...claims.map(claimItem));
      $("pg-claims-empty").hidden = claims.length > 0;
    } catch (e) {
      T.showError("pg-error", e);
    }
  }

  function programmeItem(p) {
    const li = el("li", null, { "data-programme": String(p.id), "data-category": p.category });
    const head = el("span");
    head.append(el("strong", p.name), " ", el("small", T.t(`pg_cat_${p.category}`), { class: "tag" }));
    const description = p.description[T.lang] || p.description.ja;
    const lines = [description, p.rules[T.lang] || p.rules.ja].filter(Boolean);
    let progress = T.t("pg_no_cap");
    if (p.cap) {
      progress = `${T.t("pg_progress")} ${T.formatPoints(p.granted_this_period || 0)} / ${T.formatPoints(p.cap)}`
        + ` ／ ${T.t("pg_left")} ${T.formatPoints(p.left_this_period ?? p.cap)}`;
    }
    const bar = el("progress", null, { max: String(p.cap || 1), value: String(p.cap ? (p.granted_this_period || 0) : 0),
      "aria-label": T.t("pg_progress") });
    if (!p.cap) bar.hidden = true;
    li.append(head);
    if (p.claimable && p.open) {
      const claim = el("button", T.t("pg_claim"), { type: "button", class: "primary pg-claim" });
      claim.addEventListener("click", () => openClaim(p));
      li.append(claim);
    } else {
      li.append(el("span", T.t(p.open ? "pg_auto" : "pg_closed"), { class: "muted" }));
    }
    for (const line of lines) li.append(el("small", line));
    li.append(el("small", progress, { class: "pg-progress" }));
    const barRow = el("small");
    barRow.append(bar);
    li.append(barRow);
    return li;
  }

  function eventItem(e) {
    const li = el("li", null, { "data-event": e.id });
    li.append(el("span", e.title), el("strong", e.checked_in ? `✓ ${T.t("pg_attended")}` : `+${T.formatPoints(e.points)}`));
    li.append(el("small", T.jstSpan(e.starts_at, e.ends_at)));
    return li;
  }

  function claimItem(c) {
    const li = el("li", null, { "data-claim": c.id, "data-stage": c.stage });
    const p = programmes.get(c.programme_id);
    const title = c.event ? `${T.t("pg_event")}: ${c.event}` : (p ? p.name : `#${c.programme_id}`);
    li.append(el("span", title));
    li.append(el("strong", c.stage === "paid" && c.points !== null ? `+${T.formatPoints(c.points)}` : ""));
    const stage = el("small", T.t(`pg_stage_${c.stage}`), { class: "pg-stage" });
    li.append(stage);
    if (c.reason && c.stage === "rejected") li.append(el("small", `${T.t("pg_reason")}: ${c.reason}`, { class: "pg-reason" }));
    const when = T.jstTime(c.created_at);
    li.append(el("small", [when, c.event ? "" : c.evidence, c.has_photo ? T.t("pg_with_photo") : ""].filter(Boolean).join(" ／ ")));
    return li;
  }

  // ---- a claim -------------------------------------------------------------------------------
  function openClaim(p) {
    chosen = p;
    photo = null;
    T.show("pg-claim");
    $("pg-claim-form").reset();
    $("pg-claim-name").textContent = p.name;
    $("pg-claim-rules").textContent = p.rules[T.lang] || p.rules.ja;
    $("pg-photo-label").textContent = T.t(p.evidence === "photo" ? "pg_photo_required" : "pg_photo");
    $("pg-photo-state").hidden = true;
    $("pg-photo-preview").hidden = true;
  }

  /** The photo drawn again at most 1280 px wide and as JPEG, smaller until it fits the API's limit (EXIF left behind). */
  async function smaller(file) {
    const bitmap = await createImageBitmap(file);
    let scale = Math.min(1, 1280 / Math.max(bitmap.width, bitmap.height));
    for (let attempt = 0; attempt < 8; attempt += 1) {
      const canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      for (const quality of [0.8, 0.65, 0.5]) {
        const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
        if (blob && blob.size <= MAX_PHOTO) return blob;
      }
      scale *= 0.7;
    }
    throw new Error("photo too large");
  }

  $("pg-photo").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    photo = null;
    $("pg-photo-preview").hidden = true;
    if (!file) return;
    try {
      const blob = await smaller(file);
      photo = { blob };
      $("pg-photo-preview").src = URL.createObjectURL(blob);
      $("pg-photo-preview").hidden = false;
      $("pg-photo-state").textContent = fill(T.t("pg_photo_ready"), { size: Math.ceil(blob.size / 1024) });
    } catch (e) {
      $("pg-photo-state").textContent = T.t("pg_photo_bad");
    }
    $("pg-photo-state").hidden = false;
  });

  async function uploadPhoto(blob) {
    const headers = { "Content-Type": blob.type, "Accept-Language": T.lang };
    if (T.tokens.access) headers.Authorization = `Bearer ${T.tokens.access}`;
    const response = await fetch("/v1/claim-photos", { method: "POST", headers, body: blob });
    let data = {};
    try { data = await response.json(); } catch (e) { /* no body */ }
    if (!response.ok) throw new T.ApiFailure(data.error || { code: "HTTP_" + response.status }, response.status);
    return data.id;
  }

  $("pg-claim-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const send = event.target.querySelector("button[type=submit]");
    send.disabled = true;
    try {
      const body = { programme_id: chosen.id, units: Number(form.get("units")), evidence: String(form.get("evidence")).trim() };
      if (photo) body.photo_id = await uploadPhoto(photo.blob);
      await T.call("POST", "/v1/programme-claims", body);
      await overview();
    } catch (e) {
      T.showError("pg-claim-error", e);
    } finally {
      send.disabled = false;
    }
  });

  // ---- check-in by camera ----------------------------------------------------------------------
  async function startScan() {
    stopScanner();
    T.show("pg-scan");
    $("pg-scan-result").hidden = true;
    $("pg-scan-again").hidden = true;
    $("pg-video").hidden = false;
    scanner = new T.Scanner($("pg-video"), checkIn);
    try {
      await scanner.start();
    } catch (e) {
      T.showError("pg-scan-error", new T.ApiFailure({ code: "CAMERA", messages: { ja: T.t("pg_camera"), en: T.t("pg_camera") } }));
      $("pg-scan-again").hidden = false;
    }
  }

  async function checkIn(text) {
    scanner = null;
    $("pg-video").hidden = true; // the camera is off: no black box left on screen
    $("pg-scan-error").hidden = true;
    try {
      const out = await T.move("/v1/checkins", { code: text });
      $("pg-scan-result").textContent = fill(T.t("pg_checked_in"), { title: out.event.title, points: T.formatPoints(out.event.points) });
      $("pg-scan-result").hidden = false;
    } catch (e) {
      T.showError("pg-scan-error", e);
    }
    $("pg-scan-again").hidden = false;
  }

  $("pg-checkin").addEventListener("click", startScan);
  $("pg-scan-again").addEventListener("click", startScan);
  document.querySelectorAll("button.pg-back").forEach((b) => b.addEventListener("click", overview));
  document.querySelectorAll("#programmes button.back").forEach((b) => b.addEventListener("click", stopScanner));
  $("go-programmes").hidden = false;
  $("go-programmes").addEventListener("click", overview);
  document.addEventListener("takasago:language", () => { if (!$("programmes").hidden) overview(); });
})();
