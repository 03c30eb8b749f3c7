/* The shops feature at the till (issue 21): the shop's printed QR (店舗掲示型) and the payments it
   brings in, heard the moment they are paid; the shop's profile and its application to the city
   (bank account sealed on the server); each settlement's state, requested → paid by the city. */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  let listening = null; // AbortController of the long-poll for payments
  T.addTexts({
    ja: { till_shop_qr: "お店のQR・申請・換金", ts_title: "お店のQR・申請・換金", ts_qr_hint: "このQRを印刷してレジに掲示してください。お客様が読み取り、金額を入力して支払います。",
      ts_limit: "1回の上限", ts_print: "印刷", ts_heard: "QRで受け取った支払い", ts_listening: "お支払いを待っています…",
      ts_settlements: "換金の状況", ts_no_settlements: "換金の申請はまだありません。", ts_apply: "お店の登録を申請",
      ts_update: "お店の情報を変更", ts_name: "店名（登録名）", ts_category: "業種", ts_district: "地区", ts_hours: "営業時間",
      ts_cards: "ポイントカードで支払えます", ts_static_limit: "QR支払い1回の上限（ポイント）", ts_bank: "換金の振込先口座（市だけが見ます）",
      ts_bank_name: "金融機関", ts_branch: "支店", ts_account_type: "種別", ts_ordinary: "普通", ts_current: "当座",
      ts_account_number: "口座番号", ts_holder: "口座名義（カナ）", ts_submit: "申請する", ts_save: "保存する",
      ts_pending: "市の確認待ちです（申請した店名：{name}）。", ts_approved: "登録済みのお店です：{name}",
      ts_rejected: "申請は認められませんでした。理由：{reason}", ts_bank_on_file: "登録済みの口座：{bank}（変更するときだけ入力）",
      ts_state_sending: "送信中", ts_state_requested: "申請済み（市からの振込待ち）", ts_state_paid: "振込済み",
      ts_state_failed: "失敗", ts_transfer: "振込日 {date}・参照 {ref}", ts_method_static: "お店のQR", ts_saved: "保存しました。" },
    en: { till_shop_qr: "Shop QR, application, settlements", ts_title: "Shop QR, application, settlements",
      ts_qr_hint: "Print this QR and put it at the counter: customers scan it, type the amount and pay.",
      ts_limit: "Limit per payment", ts_print: "Print", ts_heard: "Payments by the shop QR", ts_listening: "Waiting for payments…",
      ts_settlements: "Settlements", ts_no_settlements: "No settlements requested yet.", ts_apply: "Apply to register the shop",
      ts_update: "Change the shop's details", ts_name: "Shop name (registered)", ts_category: "Category", ts_district: "District",
      ts_hours: "Opening hours", ts_cards: "Takes point cards", ts_static_limit: "Most one QR payment may be (points)",
      ts_bank: "Bank account for settlements (seen by the city only)", ts_bank_name: "Bank", ts_branch: "Branch",
      ts_account_type: "Type", ts_ordinary: "Ordinary", ts_current: "Current", ts_account_number: "Account number",
      ts_holder: "Account holder (kana)", ts_submit: "Apply", ts_save: "Save",
      ts_pending: "Waiting for the city (name applied for: {name}).", ts_approved: "Registered shop: {name}",
      ts_rejected: "The application was not approved. Reason: {reason}", ts_bank_on_file: "Account on file: {bank} (fill in only to change it)",
      ts_state_sending: "sending", ts_state_requested: "requested (the city will transfer)", ts_state_paid: "paid by the city",
      ts_state_failed: "failed", ts_transfer: "transferred {date}, reference {ref}", ts_method_static: "shop QR", ts_saved: "Saved." },
  });

  function time(iso) {
    return T.jstTime(iso); // common.js: 2026-12-03 14:05 JST / 2026/12/03 14:05
  }

  function stop() {
    if (listening) listening.abort();
    listening = null;
  }

  function fill(profile) {
    const form = $("shop-form");
    for (const name of ["category", "district", "hours", "static_limit"]) form.elements[name].value = profile[name];
    form.elements.name.value = profile.requested_name;
    form.elements.takes_cards.checked = profile.takes_cards;
    $("shop-bank-on-file").textContent = T.t("ts_bank_on_file").replace("{bank}", profile.bank_on_file);
    $("shop-bank-on-file").hidden = false;
    $("shop-form-title").textContent = T.t("ts_update");
    form.querySelector("button[type=submit]").textContent = T.t("ts_save");
  }

  function state(profile) {
    const line = $("shop-state");
    line.classList.remove("error");
    if (profile.status === "pending") line.textContent = T.t("ts_pending").replace("{name}", profile.requested_name);
    else if (profile.status === "rejected") {
      line.textContent = T.t("ts_rejected").replace("{reason}", profile.reason || "");
      line.classList.add("error");
    } else line.textContent = T.t("ts_approved").replace("{name}", profile.name);
    line.hidden = false;
  }

  async function listed(profile, me) {
    $("shop-listed").hidden = !profile.static_uri;
    if (!profile.static_uri) return;
    $("shop-qr-name").textContent = profile.name;
    $("shop-qr-limit").textContent = T.formatPoints(profile.static_limit);
    $("shop-qr").src = `/v1/shops/${me.short_code}/qr.svg?scale=8`;
    $("shop-qr").dataset.uri = profile.static_uri;
    listen();
  }

  /** The long-poll: each payment to this shop is added the moment it is paid (the shop's phone can stay here). */
  async function listen() {
    stop();
    listening = new AbortController();
    const signal = listening.signal;
    const heard = new Set();
    let cursor = null;
    while (!signal.aborted && !$("shop").hidden) {
      try {
        const query = cursor ? `?after=${encodeURIComponent(cursor)}&wait=5` : "";
        const answer = await T.call("GET", `/v1/merchant/payments/heard${query}`);
        if (signal.aborted) return;
        cursor = answer.cursor;
        for (const p of answer.payments) {
          if (heard.has(p.id)) continue;
          heard.add(p.id);
          const method = answer.methods[p.id] === "static" ? T.t("ts_method_static") : answer.methods[p.id];
          const li = T.el("li", `${time(p.paid_at)} ${T.formatPoints(p.amount)} (${method})`, { "data-request": p.id });
          $("shop-heard").prepend(li);
          $("shop-listening").textContent = `✓ ${T.t("paid_till")} ${T.formatPoints(p.amount)}`;
        }
      } catch (e) {
        if (signal.aborted) return;
        await new Promise((r) => setTimeout(r, 2000)); // the network came and went: listen again shortly
      }
    }
  }

  async function settlements() {
    let rows = [];
    try { rows = await T.call("GET", "/v1/merchant/settlements"); } catch (e) { rows = []; }
    $("shop-settlements-empty").hidden = rows.length > 0;
    $("shop-settlements").replaceChildren(...rows.map((s) => {
      const li = T.el("li", `${time(s.requested_at)} ${T.formatPoints(s.amount)} — ${T.t("ts_state_" + s.status)}`,
        { "data-status": s.status, "data-id": s.id });
      if (s.status === "paid") {
        li.append(T.el("small", " " + T.t("ts_transfer").replace("{date}", T.calendarDate(s.transfer_date)).replace("{ref}", s.transfer_reference)));
      }
      return li;
    }));
  }

  async function open() {
    T.show("shop");
    delete $("shop").dataset.ready; // set once the profile is read (and the form filled)
    $("shop-heard").replaceChildren();
    $("shop-listening").textContent = T.t("ts_listening");
    let me = null;
    try { me = await T.call("GET", "/v1/me"); } catch (e) { return; }
    let profile = null;
    try {
      profile = await T.call("GET", "/v1/merchant/shop");
    } catch (e) {
      if (!(e instanceof T.ApiFailure && e.error.code === "NOT_FOUND")) T.showError("shop-error", e);
    }
    if (profile) {
      fill(profile);
      state(profile);
      await listed(profile, me);
    } else {
      $("shop-state").hidden = true;
      $("shop-listed").hidden = true;
      if (!$("shop-form").elements.name.value) $("shop-form").elements.name.value = me.display_name || "";
    }
    if (me.status === "active") await settlements();
    // a shop still waiting for the city has only its application here (payments open once it is verified)
    $("shop").querySelector("button.back").hidden = me.status !== "active";
    $("shop").dataset.ready = "1";
  }

  $("shop-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target.elements;
    const body = {
      name: form.name.value.trim(), category: form.category.value.trim(), district: form.district.value.trim(),
      hours: form.hours.value.trim(), takes_cards: form.takes_cards.checked, static_limit: Number(form.static_limit.value),
    };
    if (form.bank.value.trim() || form.account_number.value.trim()) {
      body.bank = { bank: form.bank.value.trim(), branch: form.branch.value.trim(), account_type: form.account_type.value,
        account_number: form.account_number.value.trim(), holder: form.holder.value.trim() };
    }
    try {
      const response = await T.call("PUT", "/v1/merchant/shop", body);
      for (const name of ["bank", "branch", "account_number", "holder"]) form[name].value = "";
      fill(response);
      state(response);
      $("shop-state").textContent += " " + T.t("ts_saved");
    } catch (e) {
      T.showError("shop-error", e);
    }
  });
  $("shop-print").addEventListener("click", () => window.print());
  document.addEventListener("takasago:language", () => { if (!$("shop").hidden && $("shop").dataset.ready) settlements(); });
  $("go-shop-qr").hidden = false;
  $("go-shop-qr").addEventListener("click", () => open());
  document.querySelectorAll("#shop button.back").forEach((b) => b.addEventListener("click", () => stop()));
  T.tillShops = { open, stop };
})();
