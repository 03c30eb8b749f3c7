/* The shops feature in the residents' app (issue 21): the directory of participating shops (search,
   a shop's page with its printed QR) and paying by a shop's printed QR (店舗掲示型): scan, see the
   shop's registered name, type the amount, confirm. A shop QR scanned from the app's own 読み取って
   支払う comes here too (T.onShopQr). */
"use strict";

(() => {
  const T = TAKASAGO;
  const $ = (id) => document.getElementById(id);
  let scanner = null;
  let shop = null; // the shop being paid (as /v1/shops/… describes it)
  let pending = null; // {amount, key}: one key per confirmed amount, so a retry never pays twice
  T.addTexts({
    ja: { shops: "お店をさがす", rs_title: "お店をさがす", rs_search: "店名・業種・地区", rs_search_go: "さがす", rs_none: "見つかりませんでした。",
      rs_qr_hint: "お店に掲示されているQRと同じです。お店でQRを読み取り、金額を入力して支払います。", rs_scan: "QRを読み取って支払う",
      rs_back_list: "一覧に戻る", rs_pay_to: "支払い先", rs_amount: "金額（ポイント）", rs_next: "確認へ", rs_change: "金額を直す",
      rs_limit: "このお店のQRで1回に支払えるのは {limit} までです。", rs_question: "{name} に {amount} を支払いますか？",
      rs_category: "業種", rs_district: "地区", rs_hours: "営業時間", rs_cards: "カード", rs_cards_yes: "ポイントカード可",
      rs_cards_no: "スマートフォンのみ", rs_camera: "カメラを使えません。", rs_not_shop: "お店のQRではありません。" },
    en: { shops: "Find shops", rs_title: "Find shops", rs_search: "Name, category or district", rs_search_go: "Search", rs_none: "No shops found.",
      rs_qr_hint: "The same QR as at the shop's counter: scan it there, type the amount and pay.", rs_scan: "Scan the shop's QR and pay",
      rs_back_list: "Back to the list", rs_pay_to: "Paying", rs_amount: "Amount (points)", rs_next: "Continue", rs_change: "Change the amount",
      rs_limit: "This shop's QR takes up to {limit} per payment.", rs_question: "Pay {amount} to {name}?",
      rs_category: "Category", rs_district: "District", rs_hours: "Hours", rs_cards: "Cards", rs_cards_yes: "point cards accepted",
      rs_cards_no: "smartphone only", rs_camera: "The camera is not available.", rs_not_shop: "This is not a shop's QR." },
  });

  function stopScanner() {
    if (scanner) scanner.stop();
    scanner = null;
  }

  function go(id) {
    stopScanner();
    T.show(id);
  }

  function facts(s) {
    return [[T.t("rs_category"), s.category], [T.t("rs_district"), s.district], [T.t("rs_hours"), s.hours],
      [T.t("rs_cards"), s.takes_cards ? T.t("rs_cards_yes") : T.t("rs_cards_no")]];
  }

  // ---- the directory -------------------------------------------------------------------------
  async function search(q) {
    go("shops");
    try {
      const found = await T.call("GET", "/v1/shops" + (q ? `?q=${encodeURIComponent(q)}` : ""));
      $("shops-empty").hidden = found.length > 0;
      $("shops-list").replaceChildren(...found.map((s) => {
        const li = T.el("li", null, { "data-code": s.code });
        const open = T.el("button", s.name, { type: "button", class: "link shop-open" });
        open.addEventListener("click", () => page(s));
        li.append(open, T.el("small", ` ${s.category} · ${s.district} · ${s.hours}${s.takes_cards ? " · " + T.t("rs_cards_yes") : ""}`));
        return li;
      }));
    } catch (e) {
      T.showError("shops-error", e);
    }
  }

  function page(s) {
    go("shop-page");
    shop = s;
    $("shop-page-name").textContent = s.name;
    $("shop-page-facts").replaceChildren(...facts(s).flatMap(([k, v]) => [T.el("dt", k), T.el("dd", v)]));
    $("shop-page-qr").src = `/v1/shops/${encodeURIComponent(s.code)}/qr.svg?scale=6`;
    $("shop-page-qr").dataset.uri = s.static_uri;
  }

  $("shops-search").addEventListener("submit", (event) => {
    event.preventDefault();
    search(event.target.elements.q.value.trim());
  });
  $("shop-page-back").addEventListener("click", () => search($("shops-search").elements.q.value.trim()));

  // ---- paying by the shop's printed QR ----------------------------------------------------------
  async function scannedShop(text) {
    try {
      showPay(await T.call("POST", "/v1/shops/resolve", { uri: text.trim() }));
    } catch (e) {
      go("shop-scan");
      T.showError("shop-scan-error", e);
    }
  }

  function showPay(s) {
    go("shop-pay");
    shop = s;
    pending = null;
    $("shop-pay-name").textContent = s.name;
    $("shop-pay-facts").textContent = `${s.category} · ${s.district}`;
    $("shop-pay-limit").textContent = T.t("rs_limit").replace("{limit}", T.formatPoints(s.static_limit));
    $("shop-pay-amount").value = "";
    $("shop-pay-amount").focus();
  }

  $("shop-page-scan").addEventListener("click", async () => {
    go("shop-scan");
    scanner = new T.Scanner($("shop-scan-video"), (text) => {
      if (text.trim().startsWith("takasago-shop:")) scannedShop(text);
      else {
        T.showError("shop-scan-error", new T.ApiFailure({ code: "INVALID_SHOP_QR", messages: { ja: T.t("rs_not_shop"), en: T.t("rs_not_shop") } }));
      }
    });
    try { await scanner.start(); } catch (e) {
      T.showError("shop-scan-error", new T.ApiFailure({ code: "CAMERA", messages: { ja: T.t("rs_camera"), en: T.t("rs_camera") } }));
    }
  });

  $("shop-pay-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const amount = Number($("shop-pay-amount").value);
    if (!Number.isInteger(amount) || amount < 1) { $("shop-pay-amount").reportValidity(); return; }
    try {
      const preview = await T.call("POST", `/v1/shops/${encodeURIComponent(shop.code)}/preview`, { amount });
      go("shop-confirm");
      pending = { amount, key: crypto.randomUUID() };
      $("shop-confirm-name").textContent = preview.shop.name;
      $("shop-confirm-amount").textContent = T.formatPoints(amount);
      $("shop-confirm-question").textContent = T.t("rs_question").replace("{name}", preview.shop.name).replace("{amount}", T.formatPoints(amount));
      $("shop-confirm-balance-line").hidden = preview.balance === null;
      if (preview.balance !== null) $("shop-confirm-balance").textContent = T.formatPoints(preview.balance);
      $("shop-confirm-pay").hidden = false;
    } catch (e) {
      T.showError("shop-pay-error", e); // over the shop's limit, more than the balance: nothing is paid
    }
  });

  $("shop-confirm-change").addEventListener("click", () => showPay(shop));
  $("shop-confirm-pay").addEventListener("click", async () => {
    if (!pending) return;
    $("shop-confirm-pay").disabled = true;
    try {
      const result = await T.move(`/v1/shops/${encodeURIComponent(shop.code)}/payments`, { amount: pending.amount }, pending.key);
      const request = result.payment_request || {};
      T.show("done");
      $("done-text").textContent = `${T.t("paid")} — ${request.merchant_name || shop.name}`;
      $("done-amount").textContent = T.formatPoints(request.amount || pending.amount);
      pending = null;
    } catch (e) {
      T.showError("shop-confirm-error", e);
      if (e instanceof T.ApiFailure && e.status < 500) { $("shop-confirm-pay").hidden = true; pending = null; }
    } finally {
      $("shop-confirm-pay").disabled = false;
    }
  });

  document.querySelectorAll("#shops button.back, #shop-scan button.back, #shop-pay button.back").forEach((b) => b.addEventListener("click", () => stopScanner()));
  $("go-shops").hidden = false;
  $("go-shops").addEventListener("click", () => search(""));
  /** The app's own scanner read a shop's printed QR: true when it was one (handled here). */
  T.onShopQr = (text) => {
    if (!String(text).trim().startsWith("takasago-shop:")) return false;
    scannedShop(text);
    return true;
  };
})();
